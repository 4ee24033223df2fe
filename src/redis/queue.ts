/**
 * `RedisQueue<T>`: the `Queue` interface over a Redis list, for processes on many machines.
 *
 * ```ts
 * const q = await connectQueue<string>('redis://127.0.0.1:6379', 'jobs', { maxsize: 100 });
 * await q.put('message 1');                      // waits for room when full (blocking on Redis, not polling)
 * const item = await q.get({ timeout: 2000 });   // milliseconds; Empty when the timeout passes
 * for await (const job of q) { … }               // until the queue is shut down (by any client) and drained
 * q.close(); await q.joinThread();               // or: await using q = await connectQueue(…)
 * ```
 *
 * Same contract as the shared-memory `Queue` (FIFO, `maxsize`, `Full`/`Empty`/`ShutDown`/`ClosedError`, the same
 * argument checks and errors, `AbortSignal`, batches, Python 3.13 `shutdown` across every client), with these
 * differences, all forced by the network:
 * - Connecting is asynchronous: `await connectQueue(url, name, options)` (or `RedisQueue.connect`) instead of a
 *   constructor. Clients that connect with the same `name` (and `prefix`) share the queue; it lives in Redis until
 *   `destroy()`.
 * - The `…Sync` and `…Nowait` forms, `qsize()`, `empty()`, `full()`, `shutdown()`, `isShutDown` and `taskDone()`
 *   keep the `Queue` signatures: they are synchronous, and block this thread for their Redis round trips through a
 *   helper thread started at the first such call (`sync-bridge.ts`). Async twins that never block the event loop:
 *   `qsizeAsync()`, `emptyAsync()`, `fullAsync()`, `shutdownAsync()`, `isShutDownAsync()`, `taskDoneAsync()`,
 *   and `get({ block: false })` / `put(x, { block: false })` for the `…Nowait` forms.
 * - `qsize()` is exact at the instant Redis answers.
 * - Items are what structured clone accepts (or what `codec` encodes); procq handles (a shared-memory `Queue`,
 *   `Lock`, …) cannot leave their machine: putting one fails with `TypeError`.
 * - Optional reliable delivery (`reliable: true`): items taken but not acknowledged by a consumer that dies go
 *   back to the queue (see `RedisQueueOptions.reliable`).
 * - `close()` ends this client's pending waits (they reject with `ClosedError`, having taken nothing) and its
 *   connections; `joinThread()` resolves once they are closed.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Codec } from '../codec/frames.js';
import { abortErrorFrom, ClosedError, ShutDown } from '../errors.js';
import { checkWaitOptions, describe } from '../options.js';
import type { JoinableQueueLike, QueueLike } from '../queue/contract.js';
import type { GetOptions, PutOptions, SyncGetOptions, SyncPutOptions } from '../queue/options.js';
import { AsyncDriver, evalScript } from './driver.js';
import { decodeItem, encodeItem } from './items.js';
import { type Ctx, getOp, joinOp, type Op, putOp, scriptOp, taskDoneOp } from './ops.js';
import {
  type CheckedOptions,
  checkMax,
  checkName,
  checkOptions,
  checkUrl,
  type RedisQueueOptions,
} from './options.js';
import {
  aliveKey,
  DESTROY,
  HEARTBEAT,
  INIT,
  type Keys,
  keysOf,
  procKey,
  RECOVER,
  SHUTDOWN,
  STATUS,
} from './scripts.js';
import { SyncBridge } from './sync-bridge.js';

const kInternal = Symbol('procq.redis.internal');

interface State {
  readonly url: string;
  readonly options: CheckedOptions<any>;
  readonly driver: AsyncDriver;
  readonly ctx: Ctx;
  readonly consumerId: string | undefined;
}

interface Status {
  qsize: number;
  maxsize: number;
  state: number;
  unfinished: number;
}

function deadlineOf(timeoutMs: number): number {
  return timeoutMs === Number.POSITIVE_INFINITY ? timeoutMs : performance.now() + timeoutMs;
}

/** Redis 6.2 has BLMOVE, LMOVE and LPOP with a count; 7.0 adds BLMPOP. */
function serverVersion(info: string): [number, number] {
  const m = /redis_version:(\d+)\.(\d+)/.exec(info);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

async function open(url: unknown, name: unknown, options: unknown, joinable: boolean): Promise<State> {
  const u = checkUrl(url);
  const n = checkName(name);
  const o = checkOptions<any>(options);
  const driver = await AsyncDriver.open(u, o.redis);
  try {
    const [major, minor] = serverVersion(String(await driver.cmd.info('server')));
    if (major < 6 || (major === 6 && minor < 2)) {
      throw new Error(
        `procq's Redis queue needs Redis 6.2 or later (BLMOVE); this server is ${major}.${minor}`,
      );
    }
    const keys = keysOf(o.prefix, n);
    const wanted = o.maxsize === undefined ? undefined : Math.max(0, o.maxsize);
    const r = (await evalScript(driver.cmd, INIT, [keys.meta], [wanted ?? '', joinable ? '1' : '0'])) as [
      number,
      Buffer,
      Buffer,
    ];
    const maxsize = Number(String(r[1]));
    if (wanted !== undefined && wanted !== maxsize) {
      throw new RangeError(
        `the Redis queue "${n}" exists with maxsize ${maxsize}, not ${wanted}: omit \`maxsize\` to adopt it`,
      );
    }
    if (joinable && String(r[2]) !== '1') {
      throw new TypeError(
        `the Redis queue "${n}" exists as a plain queue: it cannot be opened as a joinable one`,
      );
    }
    const consumerId = o.reliable
      ? (o.consumerId ?? `${hostname()}:${process.pid}:${randomUUID()}`)
      : undefined;
    let members = 0;
    const memberBase = `${hostname()}:${process.pid}:${randomUUID()}:`;
    const ctx: Ctx = {
      name: n,
      keys,
      maxsize,
      reliable: o.reliable,
      proc: consumerId === undefined ? keys.items : procKey(keys, consumerId),
      blmpop: major >= 7,
      sliceMs: o.sliceMs,
      member: () => memberBase + members++,
    };
    if (consumerId !== undefined) {
      await heartbeat(driver, keys, consumerId, o.heartbeatMs);
      // A restarted consumer with the same id gives back what its previous run left unacknowledged.
      if (o.consumerId !== undefined) await recover(driver, ctx, consumerId);
      await recover(driver, ctx, '');
    }
    return { url: u, options: o, driver, ctx, consumerId };
  } catch (err) {
    await driver.close();
    throw err;
  }
}

async function heartbeat(driver: AsyncDriver, k: Keys, id: string, ttl: number): Promise<number> {
  return (await evalScript(
    driver.cmd,
    HEARTBEAT,
    [k.meta, k.consumers, aliveKey(k, id)],
    [id, ttl],
  )) as number;
}

async function recover(driver: AsyncDriver, ctx: Ctx, id: string): Promise<number> {
  const k = ctx.keys;
  return (await driver.run(
    scriptOp(ctx, RECOVER, [k.items, k.meta, k.consumers, k.joiners, k.done], [k.base, id]),
  )) as number;
}

function toStatus(r: unknown): Status {
  const [qsize, maxsize, state, unfinished] = r as number[];
  return { qsize: qsize!, maxsize: maxsize!, state: state!, unfinished: unfinished! };
}

export class RedisQueue<T = unknown> implements QueueLike<T> {
  readonly #state: State;
  readonly #codec: Codec<T> | undefined;
  /** Reliable delivery: the values this client took and has not acknowledged, oldest first. */
  readonly #outstanding: Buffer[] = [];
  #bridge: SyncBridge | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * Connects to (creating when missing) the queue `name` on the Redis server at `url`. Rejects with
   * `TypeError`/`RangeError` for invalid arguments, or when the queue exists with another `maxsize`.
   */
  static connect<T = unknown>(
    url: string,
    name: string,
    options?: RedisQueueOptions<T>,
  ): Promise<RedisQueue<T>> {
    return open(url, name, options, false).then((s) => new RedisQueue<T>(kInternal, s));
  }

  /** @internal use `RedisQueue.connect` or `connectQueue`. */
  constructor(token: typeof kInternal, state: State) {
    if (token !== kInternal) throw new TypeError('use `await RedisQueue.connect(url, name, options)`');
    this.#state = state;
    this.#codec = state.options.codec;
    const { consumerId, driver, ctx, options } = state;
    if (consumerId !== undefined) {
      this.#heartbeat = setInterval(() => {
        heartbeat(driver, ctx.keys, consumerId, options.heartbeatMs)
          .then(() => recover(driver, ctx, ''))
          .catch(() => {});
      }, options.heartbeatMs / 3);
      this.#heartbeat.unref();
    }
  }

  /** @internal */
  protected get _ctx(): Ctx {
    return this.#state.ctx;
  }

  /** The queue's name (its keys are `<prefix>{<name>}:…`). */
  get name(): string {
    return this.#state.ctx.name;
  }

  /** The bound fixed when the queue was created (`0`: none). */
  get maxsize(): number {
    return this.#state.ctx.maxsize;
  }

  /** Reliable delivery: this consumer's id; else undefined. */
  get consumerId(): string | undefined {
    return this.#state.consumerId;
  }

  // ------------------------------------------------------------------ put

  /**
   * Puts `item`, waiting for room when the queue is full (unless `block: false`).
   * Rejects with `Full` (timeout or `block: false`), `ShutDown`, `TypeError` (the item cannot be cloned, or is a
   * procq handle; nothing sent), `AbortError`, or `ClosedError`.
   *
   * Abort safety: when the signal aborts, the item has not been put.
   */
  async put(item: T, options?: PutOptions): Promise<void> {
    const { timeoutMs, signal } = this.#begin(options);
    await this._run(putOp(this._ctx, [encodeItem(item, this.#codec)], deadlineOf(timeoutMs), false), signal);
  }

  /** Like `put`, blocking the calling thread (see the class notes). Throws instead of rejecting. */
  putSync(item: T, options?: SyncPutOptions): void {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    this._runSync(putOp(this._ctx, [encodeItem(item, this.#codec)], deadlineOf(timeoutMs), false));
  }

  /** `put` with `block: false`, synchronously: throws `Full` at once when the queue is full. */
  putNowait(item: T): void {
    this.putSync(item, { block: false });
  }

  /**
   * Puts every item, in order, as many per round trip as there is room for (one RPUSH in one script): the batch
   * fast path. Resolves with the count. Every item is encoded first, so one that cannot be cloned rejects with
   * `TypeError` before any is put. On timeout it rejects with `Full` whose `putCount` says how many were put.
   *
   * Abort safety: the first `putCount` items (on the error) have been put, the rest have not.
   */
  async putMany(items: Iterable<T>, options?: PutOptions): Promise<number> {
    const { timeoutMs, signal } = this.#begin(options);
    const values = Array.from(items, (x) => encodeItem(x, this.#codec));
    if (values.length === 0) return 0;
    return this._run(putOp(this._ctx, values, deadlineOf(timeoutMs), true), signal);
  }

  putManySync(items: Iterable<T>, options?: SyncPutOptions): number {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    const values = Array.from(items, (x) => encodeItem(x, this.#codec));
    if (values.length === 0) return 0;
    return this._runSync(putOp(this._ctx, values, deadlineOf(timeoutMs), true));
  }

  // ------------------------------------------------------------------ get

  /**
   * Takes the oldest item, waiting for one (in a blocking Redis command) when the queue is empty (unless
   * `block: false`). Rejects with `Empty` (timeout or `block: false`), `ShutDown` (shut down and drained),
   * `AbortError`, or `ClosedError`.
   *
   * Abort safety: when the signal aborts, no item has been taken (one the blocking command had already taken
   * goes back to the head of the queue).
   */
  async get(options?: GetOptions): Promise<T> {
    const { timeoutMs, signal } = this.#begin(options);
    const values = await this._run(getOp(this._ctx, 1, deadlineOf(timeoutMs)), signal);
    return this.#taken(values)[0]!;
  }

  /** Like `get`, blocking the calling thread (see the class notes). Throws instead of rejecting. */
  getSync(options?: SyncGetOptions): T {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this.#taken(this._runSync(getOp(this._ctx, 1, deadlineOf(timeoutMs))))[0]!;
  }

  /** `get` with `block: false`, synchronously: throws `Empty` at once when the queue is empty. */
  getNowait(): T {
    return this.getSync({ block: false });
  }

  /**
   * Takes between 1 and `max` items (oldest first) in one round trip (`BLMPOP … COUNT max`, or `LPOP key count`
   * in a script), waiting for the first like `get`, never for the rest.
   *
   * Abort safety: when the signal aborts, no item has been taken.
   */
  async getMany(max: number, options?: GetOptions): Promise<T[]> {
    const n = checkMax(max);
    const { timeoutMs, signal } = this.#begin(options);
    return this.#taken(await this._run(getOp(this._ctx, n, deadlineOf(timeoutMs)), signal));
  }

  getManySync(max: number, options?: SyncGetOptions): T[] {
    const n = checkMax(max);
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this.#taken(this._runSync(getOp(this._ctx, n, deadlineOf(timeoutMs))));
  }

  #taken(values: Buffer[]): T[] {
    if (this._ctx.reliable) this.#outstanding.push(...values);
    return values.map((v) => decodeItem(v, this.#codec) as T);
  }

  // ------------------------------------------------------------------ reliable delivery

  /**
   * Reliable delivery: acknowledges the `count` oldest items this client took and has not acknowledged yet, so
   * they are never delivered again. Rejects with `TypeError` without `reliable: true`, `RangeError` when fewer are
   * outstanding.
   */
  async ack(count = 1): Promise<void> {
    this.#checkOpen();
    if (!this._ctx.reliable) throw new TypeError('ack() needs a queue connected with `reliable: true`');
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      const err = typeof count === 'number' ? RangeError : TypeError;
      throw new err(`Expected \`count\` to be a positive integer, got ${describe(count)}`);
    }
    const n = count;
    if (n > this.#outstanding.length) {
      throw new RangeError(`ack(${n}): only ${this.#outstanding.length} items are unacknowledged`);
    }
    for (const v of this.#outstanding.splice(0, n)) await this._run(taskDoneOp(this._ctx, v, false));
  }

  /** Reliable delivery: how many items this client took and has not acknowledged. */
  get unacknowledged(): number {
    return this.#outstanding.length;
  }

  /**
   * Puts the unacknowledged items of `consumerId` (default: every reliable consumer whose heartbeat has expired)
   * back at the head of the queue, oldest first. Resolves with how many. Reliable clients also do this at every
   * heartbeat; this is for doing it at once.
   */
  async recover(consumerId?: string): Promise<number> {
    this.#checkOpen();
    if (consumerId !== undefined) checkName(consumerId);
    if (consumerId !== undefined && consumerId === this.consumerId) this.#outstanding.length = 0;
    return recover(this.#state.driver, this._ctx, consumerId ?? '');
  }

  /** @internal the oldest unacknowledged value, for `taskDone`. */
  protected _nextAck(): Buffer | undefined {
    return this.#outstanding.shift();
  }

  /** @internal */
  protected _unshiftAck(v: Buffer | undefined): void {
    if (v !== undefined) this.#outstanding.unshift(v);
  }

  // ------------------------------------------------------------------ size and state

  /** Items in the queue, exact at the instant Redis answers. Blocks for a round trip: see `qsizeAsync`. */
  qsize(): number {
    return this.#statusSync().qsize;
  }

  empty(): boolean {
    return this.qsize() <= 0;
  }

  /** True when `maxsize` items are queued; never for an unbounded queue. */
  full(): boolean {
    return this.maxsize > 0 && this.qsize() >= this.maxsize;
  }

  async qsizeAsync(): Promise<number> {
    return (await this.#status()).qsize;
  }

  async emptyAsync(): Promise<boolean> {
    return (await this.qsizeAsync()) <= 0;
  }

  async fullAsync(): Promise<boolean> {
    return this.maxsize > 0 && (await this.qsizeAsync()) >= this.maxsize;
  }

  /** Whether `shutdown()` was called by any client. */
  get isShutDown(): boolean {
    return this.#statusSync().state !== 0;
  }

  async isShutDownAsync(): Promise<boolean> {
    return (await this.#status()).state !== 0;
  }

  #statusReq(): Op<unknown> {
    const k = this._ctx.keys;
    return scriptOp(this._ctx, STATUS, [k.items, k.meta], []);
  }

  async #status(): Promise<Status> {
    this.#checkOpen();
    return toStatus(await this._run(this.#statusReq()));
  }

  #statusSync(): Status {
    this.#checkOpen();
    return toStatus(this._runSync(this.#statusReq()));
  }

  /**
   * Python 3.13's `shutdown`, across every client of the queue: puts then throw `ShutDown` (waiting ones too);
   * gets drain what is left, then throw `ShutDown`. With `immediate: true`, what is left is discarded and gets
   * throw at once (and a joinable queue's `join()` returns). Blocks for a round trip: see `shutdownAsync`.
   */
  shutdown(options?: { immediate?: boolean }): void {
    this.#checkOpen();
    this._runSync(this.#shutdownReq(options));
  }

  async shutdownAsync(options?: { immediate?: boolean }): Promise<void> {
    this.#checkOpen();
    await this._run(this.#shutdownReq(options));
  }

  #shutdownReq(options: { immediate?: boolean } | undefined): Op<unknown> {
    const k = this._ctx.keys;
    return scriptOp(
      this._ctx,
      SHUTDOWN,
      [k.items, k.meta, k.putters, k.room, k.joiners, k.done],
      [options?.immediate === true ? '1' : '0'],
    );
  }

  // ------------------------------------------------------------------ lifetime

  /**
   * This client will use the queue no more: later calls throw `ClosedError`; pending waits reject with
   * `ClosedError` (having taken and put nothing); with reliable delivery, unacknowledged items go back to the head
   * of the queue. The connections close in the background: `joinThread()` waits for that. Other clients and the
   * queue itself are unaffected (see `destroy()`).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    const { driver, ctx, consumerId } = this.#state;
    const bridge = this.#bridge;
    this.#closing = driver
      .close(async () => {
        if (consumerId !== undefined) await recover(driver, ctx, consumerId).catch(() => {});
      })
      .then(async () => {
        await bridge?.close();
      });
  }

  /** Resolves once `close()` has closed this client's connections (Python's `join_thread()` after `close()`). */
  async joinThread(): Promise<void> {
    if (!this.#closed) throw new Error('joinThread() can only be called after close(), as in Python');
    await this.#closing;
  }

  /** For compatibility: there is no feeder thread to cancel. */
  cancelJoinThread(): void {}

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.joinThread();
  }

  /**
   * Deletes every Redis key of the queue (items, state, processing lists). Use it once no client uses the queue:
   * a client still connected fails its next call with `QueueGoneError`. This client stays open (close it too).
   */
  async destroy(): Promise<void> {
    this.#checkOpen();
    clearInterval(this.#heartbeat);
    const k = this._ctx.keys;
    await evalScript(
      this.#state.driver.cmd,
      DESTROY,
      [k.items, k.meta, k.putters, k.room, k.joiners, k.done, k.consumers],
      [k.base],
    );
  }

  /** Yields items until the queue is shut down and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (err) {
        if (err instanceof ShutDown) return;
        throw err;
      }
      yield item;
    }
  }

  get [Symbol.toStringTag](): string {
    return 'RedisQueue';
  }

  // ------------------------------------------------------------------ plumbing

  /** Validates the options of an async call and checks the client is open (throws: the callers are async). */
  #begin(options: unknown): { timeoutMs: number; signal: AbortSignal | undefined } {
    const spec = checkWaitOptions(options, true);
    this.#checkOpen();
    if (spec.signal?.aborted) throw abortErrorFrom(spec.signal);
    return spec;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('queue');
  }

  /** @internal */
  protected _run<R>(op: Op<R>, signal?: AbortSignal): Promise<R> {
    return this.#state.driver.run(op, signal);
  }

  /** @internal */
  protected _runSync<R>(op: Op<R>): R {
    this.#bridge ??= new SyncBridge(this.#state.url, this.#state.options.redis, this.#state.options.sliceMs);
    return this.#bridge.run(op);
  }

  /** @internal */
  protected _checkOpen(): void {
    this.#checkOpen();
  }
}

/**
 * A `RedisQueue` that counts unfinished tasks across every client: each put adds one, each `taskDone()` removes
 * one, and `join()` waits (blocking on Redis) until none are left (Python's `JoinableQueue`). With reliable
 * delivery, `taskDone()` also acknowledges the oldest item this client took.
 */
export class RedisJoinableQueue<T = unknown> extends RedisQueue<T> implements JoinableQueueLike<T> {
  static override connect<T = unknown>(
    url: string,
    name: string,
    options?: RedisQueueOptions<T>,
  ): Promise<RedisJoinableQueue<T>> {
    return open(url, name, options, true).then((s) => new RedisJoinableQueue<T>(kInternal, s));
  }

  /**
   * Marks one item taken with `get` as processed. Throws RangeError when called more times than items were put.
   * Blocks for a round trip: see `taskDoneAsync`.
   */
  taskDone(): void {
    this._checkOpen();
    const ack = this._nextAck();
    try {
      this._runSync(taskDoneOp(this._ctx, ack, true));
    } catch (err) {
      this._unshiftAck(ack);
      throw err;
    }
  }

  async taskDoneAsync(): Promise<void> {
    this._checkOpen();
    const ack = this._nextAck();
    try {
      await this._run(taskDoneOp(this._ctx, ack, true));
    } catch (err) {
      this._unshiftAck(ack);
      throw err;
    }
  }

  /**
   * Resolves when every item put has been marked done with `taskDone()` (by any client). With `timeout` (ms),
   * resolves `false` when it passes first, else `true`.
   *
   * Abort safety: aborting changes nothing in the queue.
   */
  async join(options?: { timeout?: number; signal?: AbortSignal }): Promise<boolean> {
    const { timeoutMs, signal } = checkWaitOptions(options, true);
    this._checkOpen();
    if (signal?.aborted) throw abortErrorFrom(signal);
    return this._run(joinOp(this._ctx, deadlineOf(timeoutMs)), signal);
  }

  joinSync(options?: { timeout?: number }): boolean {
    const { timeoutMs } = checkWaitOptions(options, false);
    this._checkOpen();
    return this._runSync(joinOp(this._ctx, deadlineOf(timeoutMs)));
  }

  override get [Symbol.toStringTag](): string {
    return 'RedisJoinableQueue';
  }
}

/**
 * Connects to (creating when missing) the Redis queue `name` at `url`: `RedisQueue.connect`, the shape of
 * `Queue.connect(url, { name, … })`. With `joinable: true`, a `RedisJoinableQueue`.
 */
export function connectQueue<T = unknown>(
  url: string,
  name: string,
  options?: RedisQueueOptions<T> & { joinable?: false },
): Promise<RedisQueue<T>>;
export function connectQueue<T = unknown>(
  url: string,
  name: string,
  options: RedisQueueOptions<T> & { joinable: true },
): Promise<RedisJoinableQueue<T>>;
export function connectQueue<T = unknown>(
  url: string,
  name: string,
  options?: RedisQueueOptions<T> & { joinable?: boolean },
): Promise<RedisQueue<T>> {
  return options?.joinable === true
    ? RedisJoinableQueue.connect<T>(url, name, options)
    : RedisQueue.connect<T>(url, name, options);
}
