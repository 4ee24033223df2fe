/**
 * `Queue<T>`: Python's `multiprocessing.Queue`, over shared memory, for threads and processes alike.
 *
 * ```ts
 * const q = new Queue<string>(3);          // bounded: at most 3 items (no bound when maxsize <= 0 or omitted)
 * await q.put('message 1');                // waits for room when full
 * q.putNowait('message 2');                // Full at once when full
 * const item = await q.get({ timeout: 2000 });  // milliseconds; Empty when the timeout passes
 * ```
 *
 * Times are **milliseconds** (Python uses seconds). Each blocking call has three forms: async (a Promise; never
 * blocks the event loop), `…Sync` (blocks the calling thread, for workers and child processes), `…Nowait`.
 * Async forms never throw synchronously: argument errors come as rejections too.
 *
 * A `Queue` passed to a `Process` (in `args`) or put inside an item on another queue arrives attached to the same
 * shared memory. Items are anything structured clone accepts; strings, numbers and byte arrays take fast paths.
 */

import type { Codec } from '../codec/frames.js';
import { handleTypeOf, shareable } from '../codec/handles.js';
import type { WaitPoint } from '../connection/wait-point.js';
import { ClosedError, rejecting } from '../errors.js';
import { type Inspect, type InspectOptions, inspectCustom } from '../inspect/custom.js';
import { checkLabel } from '../inspect/label.js';
import type { QueueStats } from '../inspect/read.js';
import { register } from '../inspect/registry.js';
import { queueStats } from '../inspect/stats.js';
import { attachSegment, type SegmentHandle } from '../memory/index.js';
import { WAIT_SLICE_MS } from '../wait/index.js';
import { checkCodec, checkMax, itemsUntilShutDown } from './common.js';
import type { JoinableQueueLike, QueueLike } from './contract.js';
import { QueueEngine } from './engine.js';
import {
  checkCapacity,
  checkMaxsize,
  checkWaitOptions,
  describe,
  type GetOptions,
  type PutOptions,
  type QueueOptions,
  type SyncGetOptions,
  type SyncPutOptions,
  type WaitSpec,
} from './options.js';

const kAttach = Symbol('procq.attach');
/** The keys of `new Queue({ ... })`: a misspelt one (`maxSize`) is an error, not an unbounded queue. */
const OPTION_KEYS = ['maxsize', 'capacityBytes', 'codec', 'label'];

/** `getInto`'s memory: a Uint8Array (a Buffer is one), else a TypeError before anything is taken. */
function checkInto(into: unknown): void {
  if (!(into instanceof Uint8Array))
    throw new TypeError(`Expected \`into\` to be a Uint8Array or Buffer, got ${describe(into)}`);
}

interface QueueState {
  segment: SegmentHandle;
  maxsize: number;
  label?: string;
}

export class Queue<T = unknown> implements QueueLike<T>, Disposable, AsyncDisposable {
  /** @internal */
  readonly _engine: QueueEngine;
  readonly #maxsize: number;
  #closed = false;

  /**
   * @param maxsize Most items the queue holds; `<= 0` or omitted: no bound (a put never blocks, never throws `Full`).
   * @throws TypeError / RangeError when `maxsize` is not an integer, or options are invalid.
   */
  constructor(maxsize?: number, options?: QueueOptions<T>);
  /** The same with everything in one options object: `new Queue({ maxsize: 1000, label: 'jobs' })`. */
  constructor(options: QueueOptions<T> & { maxsize?: number });
  /** @internal */
  constructor(attach: typeof kAttach, state: QueueState, options?: QueueOptions<T>);
  constructor(
    first?: number | typeof kAttach | (QueueOptions<T> & { maxsize?: number }),
    options?: QueueOptions<T> | QueueState,
    more?: QueueOptions<T>,
  ) {
    let maxsize: unknown = first;
    if (typeof first === 'object' && first !== null) {
      if (options !== undefined) {
        throw new TypeError(
          'Expected either `new Queue(maxsize, options)` or `new Queue(options)`, not both',
        );
      }
      if (Array.isArray(first))
        throw new TypeError('Expected `maxsize` to be an integer or an options object, got an array');
      for (const key of Object.keys(first)) {
        if (!OPTION_KEYS.includes(key)) {
          throw new TypeError(`Unknown Queue option \`${key}\` (known: ${OPTION_KEYS.join(', ')})`);
        }
      }
      ({ maxsize, ...options } = first);
    }
    if (maxsize === kAttach) {
      const state = options as QueueState;
      this.#maxsize = state.maxsize;
      this._engine = new QueueEngine(attachSegment(state.segment), more?.codec, this._joinable());
      this._engine.label = state.label;
      return;
    }
    const size = checkMaxsize(maxsize);
    const opts = options as QueueOptions<T> | undefined;
    if (opts !== undefined && (typeof opts !== 'object' || opts === null)) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(opts)}`);
    }
    const capacity = checkCapacity(opts?.capacityBytes);
    if (opts?.codec !== undefined) checkCodec(opts.codec);
    const label = checkLabel(opts?.label);
    this.#maxsize = size;
    this._engine = QueueEngine.create(size, capacity, opts?.codec, this._joinable());
    this._engine.label = label;
    register('create', handleTypeOf(this), this._engine.seg, 0, label);
  }

  /** @internal */
  protected _joinable(): boolean {
    return false;
  }

  /** The bound given at construction (`<= 0`: none). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** Items in the queue, exact at the instant it is read, across every thread and process. */
  qsize(): number {
    return this._engine.size();
  }

  empty(): boolean {
    return this.qsize() <= 0;
  }

  /** True when `maxsize` items are queued; never for an unbounded queue. */
  full(): boolean {
    return this._engine.isFull();
  }

  /**
   * Puts `item`, waiting for room when the queue is full (unless `block: false`).
   * Rejects with `Full` (timeout or `block: false`), `ShutDown`, `TypeError` (the item cannot be cloned; the queue
   * is unchanged), or `AbortError`.
   *
   * Abort safety: when the signal aborts, the item has not been put.
   */
  put(item: T, options?: PutOptions): Promise<void> {
    let spec: WaitSpec;
    try {
      spec = checkWaitOptions(options, true);
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this._engine.put(item, spec.timeoutMs, spec.signal);
  }

  /** Like `put`, blocking the calling thread. Throws instead of rejecting. */
  putSync(item: T, options?: SyncPutOptions): void {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    this._engine.putSync(item, timeoutMs);
  }

  /**
   * `put` with `block: false`: throws `Full` at once when the queue is full. An unbounded queue is never full: as
   * Python's `put_nowait` there, it waits only for another thread's put to finish (at most 250 ms; a holder that
   * does not run, such as a stopped process, makes it throw `TimeoutError`).
   */
  putNowait(item: T): void {
    this.#checkOpen();
    this._engine.putSync(item, 0);
  }

  /**
   * Takes the oldest item, waiting for one when the queue is empty (unless `block: false`).
   * Rejects with `Empty` (timeout or `block: false`), `ShutDown` (shut down and drained), or `AbortError`.
   *
   * Abort safety: when the signal aborts, no item has been taken.
   */
  get(options?: GetOptions): Promise<T> {
    let spec: WaitSpec;
    try {
      spec = checkWaitOptions(options, true);
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this._engine.get(spec.timeoutMs, spec.signal) as Promise<T>;
  }

  /** Like `get`, blocking the calling thread. Throws instead of rejecting. */
  getSync(options?: SyncGetOptions): T {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this._engine.getSync(timeoutMs) as T;
  }

  /**
   * `get` into memory you reuse: when the item taken is a byte array (`Buffer` or `Uint8Array`) of at most
   * `into.byteLength` bytes, its bytes are copied into `into` and the result is a view of them (`Buffer` or
   * `Uint8Array` as it was put, starting at `into`'s first byte; `into`'s other bytes are left as they were); no new
   * memory is allocated for it. Any other item (an object, a string, a longer byte array) is returned as `get`
   * returns it. For large items (a MiB each, say) taken in a loop, this spares the process a fresh buffer per item,
   * which it would fill and the garbage collector free. The view is overwritten by the next `getInto` into the same
   * memory: copy what you keep. Rejects as `get` does; a non-`Uint8Array` `into` is a `TypeError`.
   *
   * Abort safety: when the signal aborts, no item has been taken and `into` is unchanged.
   */
  getInto(into: Uint8Array, options?: GetOptions): Promise<T | Uint8Array> {
    let spec: WaitSpec;
    try {
      checkInto(into);
      spec = checkWaitOptions(options, true);
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this._engine.get(spec.timeoutMs, spec.signal, into) as Promise<T | Uint8Array>;
  }

  /** Like `getInto`, blocking the calling thread. Throws instead of rejecting. */
  getIntoSync(into: Uint8Array, options?: SyncGetOptions): T | Uint8Array {
    checkInto(into);
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this._engine.getSync(timeoutMs, into) as T | Uint8Array;
  }

  /** `get` with `block: false`: throws `Empty` at once when the queue is empty. */
  getNowait(): T {
    this.#checkOpen();
    return this._engine.getSync(0) as T;
  }

  /**
   * Puts every item, in order, publishing many per lock round trip: the batch fast path. Resolves with the count.
   * Items are all encoded first, so one that cannot be cloned rejects with `TypeError` before any is put.
   * On timeout it rejects with `Full` whose `putCount` says how many were put (the first `putCount` items).
   *
   * Abort safety: the first `putCount` items (on the error) have been put, the rest have not.
   */
  putMany(items: Iterable<T>, options?: PutOptions): Promise<number> {
    return rejecting(() => {
      const { timeoutMs, signal } = checkWaitOptions(options, true);
      this.#checkOpen();
      return this._engine.putMany(items, timeoutMs, signal);
    });
  }

  putManySync(items: Iterable<T>, options?: SyncPutOptions): number {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this._engine.putManySync(items, timeoutMs);
  }

  /**
   * Takes between 1 and `max` items (oldest first), waiting for the first like `get`, never for the rest.
   *
   * Abort safety: when the signal aborts, no item has been taken.
   */
  getMany(max: number, options?: GetOptions): Promise<T[]> {
    return rejecting(() => {
      const n = checkMax(max);
      const { timeoutMs, signal } = checkWaitOptions(options, true);
      this.#checkOpen();
      return this._engine.getMany(n, timeoutMs, signal) as Promise<T[]>;
    });
  }

  getManySync(max: number, options?: SyncGetOptions): T[] {
    const n = checkMax(max);
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this._engine.getManySync(n, timeoutMs) as T[];
  }

  /**
   * Python 3.13's `shutdown`, across every thread and process: puts then throw `ShutDown` (blocked ones too);
   * gets drain what is left, then throw `ShutDown`. With `immediate: true`, what is left is discarded and gets
   * throw at once (and a `JoinableQueue`'s `join()` returns).
   */
  shutdown(options?: { immediate?: boolean }): void {
    this._engine.shutdown(options?.immediate === true);
  }

  /**
   * A snapshot for metrics and `procq ls`, read from the shared header without taking any lock: items and bytes
   * queued, memory held, waiting getters and putters, put/get totals, shut-down state, the label.
   */
  stats(): QueueStats {
    return queueStats(this._engine.seg, handleTypeOf(this) as QueueStats['kind'], this._engine.label);
  }

  /** Whether `shutdown()` was called (anywhere). */
  get isShutDown(): boolean {
    return this._engine.shutdownState() !== 0;
  }

  /**
   * This process (or thread) will use the queue no more: later `put`/`get` here throw an error that says the
   * queue is closed. Other processes are unaffected. Items already put stay in shared memory: nothing is lost.
   */
  close(): void {
    this.#closed = true;
  }

  /**
   * Python's `join_thread()`: waits for buffered items to be flushed. procq writes items straight into shared
   * memory, so nothing is ever buffered: this resolves at once (after `close()`, as in Python).
   */
  joinThread(): Promise<void> {
    return rejecting(async () => {
      if (!this.#closed) throw new Error('joinThread() can only be called after close(), as in Python');
    });
  }

  /** For compatibility: there is no feeder thread to cancel. */
  cancelJoinThread(): void {}

  /**
   * `using q = new Queue()`: `close()` at the end of the scope. What that means is `close()`'s rule: this process
   * (or thread) uses the queue no more; other holders (children it was passed to) are unaffected, and items
   * already put stay queued. The shared memory itself is not freed here: it lives while any holder maps it, and
   * the creator's segment is removed when the creator exits (or by `procq sweep` once it is dead).
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using q = new Queue()`: `close()` then `joinThread()` (which has nothing to wait for). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.joinThread();
  }

  /** Yields items until the queue is shut down and drained. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return itemsUntilShutDown(() => this.get());
  }

  /** @internal for `wait()`: where a getter sleeps, and whether a `get` would return at once (an item, or shut down). */
  _waitPoint(): WaitPoint {
    this.#checkOpen();
    const e = this._engine;
    const { getters } = e.ring;
    return {
      seg: getters.seg,
      word: getters.word,
      waiters: getters.waiters,
      ready: () => e.ring.size() > 0 || e.shutdownState() !== 0,
      sliceMs: WAIT_SLICE_MS,
    };
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('queue');
  }

  // A queue travels as the description of its memory, and arrives as the class it left as.
  static {
    shareable(
      Queue,
      'Queue',
      (state: QueueState) => new Queue(kAttach, state),
      (q): QueueState => {
        const state: QueueState = { segment: q._engine.seg.handle(), maxsize: q.#maxsize };
        return q._engine.label === undefined ? state : { ...state, label: q._engine.label };
      },
    );
  }

  /**
   * Another handle on the same queue that encodes and decodes with `codec`. A codec is code, and code does not
   * travel between threads and processes: a queue made with `{ codec }` arrives in a child without it, and the
   * child attaches it again with `q.withCodec(codec)` (importing the codec from a module both share).
   */
  withCodec(codec: Codec<T>): this {
    checkCodec(codec);
    const state: QueueState = { segment: this._engine.seg.handle(), maxsize: this.#maxsize };
    if (this._engine.label !== undefined) state.label = this._engine.label;
    const Ctor = this.constructor as new (a: typeof kAttach, s: QueueState, o: QueueOptions<T>) => this;
    return new Ctor(kAttach, state, { codec });
  }

  /**
   * The same interface on Redis, for processes on many machines: `await Queue.connect('redis://host:6379',
   * { name: 'jobs', maxsize: 1000 })`. See `RedisQueue` (the Redis client is loaded only when this is called).
   */
  static async connect<T>(
    url: string,
    options: { name: string } & import('../redis/options.js').RedisQueueOptions<T>,
  ): Promise<import('../redis/queue.js').RedisQueue<T>> {
    const { connectQueue } = await import('../redis/index.js');
    const { name, ...rest } = options;
    return connectQueue<T>(url, name, rest);
  }

  get [Symbol.toStringTag](): string {
    return 'Queue';
  }

  /** @internal What `console.log(queue)` shows: the queue as its users see it, not its shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    const shown: Record<string, unknown> = {};
    if (this.#closed)
      return `${options.stylize(this[Symbol.toStringTag], 'special')} ${inspect({ closed: true }, options)}`;
    try {
      const s = this.stats();
      if (s.label !== null) shown.label = s.label;
      shown.maxsize = s.maxsize;
      shown.qsize = s.qsize;
      if (s.unfinished !== null) shown.unfinished = s.unfinished;
      if (s.shutDown) shown.shutDown = true;
    } catch (err) {
      shown.broken = (err as Error).message;
    }
    return `${options.stylize(this[Symbol.toStringTag], 'special')} ${inspect(shown, options)}`;
  }
}

/**
 * A `Queue` that counts unfinished tasks: each `put` adds one, each `taskDone()` removes one, and `join()` waits
 * until none are left (Python's `JoinableQueue`).
 */
export class JoinableQueue<T = unknown> extends Queue<T> implements JoinableQueueLike<T> {
  /** @internal */
  protected override _joinable(): boolean {
    return true;
  }

  static {
    shareable(JoinableQueue, 'JoinableQueue', (state: QueueState) => new JoinableQueue(kAttach, state));
  }

  /** Marks one item taken with `get` as processed. Throws RangeError when called more times than items were put. */
  taskDone(): void {
    this._engine.taskDone();
  }

  /**
   * Resolves when every item put has been marked done with `taskDone()`. With `timeout` (ms), resolves `false`
   * when it passes first, else `true`.
   */
  join(options?: { timeout?: number; signal?: AbortSignal }): Promise<boolean> {
    return rejecting(() => {
      const { timeoutMs, signal } = checkWaitOptions(options, true);
      return this._engine.join(timeoutMs, signal);
    });
  }

  joinSync(options?: { timeout?: number }): boolean {
    const { timeoutMs } = checkWaitOptions(options, false);
    return this._engine.joinSync(timeoutMs);
  }

  override get [Symbol.toStringTag](): string {
    return 'JoinableQueue';
  }
}

/** Python's `SimpleQueue`: an unbounded queue with just `put`, `get`, `empty` and `close`. */
export class SimpleQueue<T = unknown> extends Queue<T> {
  constructor(options?: QueueOptions<T>);
  /** @internal */
  constructor(attach: typeof kAttach, state: QueueState, options?: QueueOptions<T>);
  constructor(options?: QueueOptions<T> | typeof kAttach, state?: QueueState, more?: QueueOptions<T>) {
    if (options === kAttach) super(kAttach, state as QueueState, more);
    else super(0, options);
  }

  static {
    shareable(SimpleQueue, 'SimpleQueue', (state: QueueState) => new SimpleQueue(kAttach, state));
  }

  override get [Symbol.toStringTag](): string {
    return 'SimpleQueue';
  }
}
