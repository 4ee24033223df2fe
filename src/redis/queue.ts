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
 *   helper thread (one per thread and server, started in the background at the first connect: `sync-bridge.ts`). Async twins that never block the event loop:
 *   `qsizeAsync()`, `emptyAsync()`, `fullAsync()`, `shutdownAsync()`, `isShutDownAsync()`, `taskDoneAsync()`,
 *   and `get({ block: false })` / `put(x, { block: false })` for the `…Nowait` forms.
 * - `qsize()` is exact at the instant Redis answers.
 * - Items are what structured clone accepts, lone surrogates included (or JSON values with `codec: 'json'`, which
 *   other languages read and write: docs/REDIS.md); procq handles of one machine's memory (a shared-memory
 *   `Queue`, `Lock`, …) cannot leave it: putting one fails with `TypeError`. A `RedisQueue` can: in `Process` args
 *   or inside an item it arrives as a new client of the same queue.
 * - Delivery: at most once for `RedisQueue` (Python's), at least once for `RedisJoinableQueue` (a task taken by a
 *   consumer that dies before `taskDone()` is delivered again within `heartbeatMs` + a third of it); see
 *   `RedisQueueOptions.reliable`.
 * - A connection that fails mid-call rejects it with `RedisConnectionError`; whether the call ran is unknown.
 * - `close()` ends this client's pending waits (they reject with `ClosedError`, having taken nothing) and its
 *   connections; `joinThread()` resolves once they are closed.
 */
import { hostname } from 'node:os';
import type { RedisOptions } from 'ioredis';
import { crypto } from '../builtins.js';
import { type HandleDescriptor, kHandle, registerHandle } from '../codec/handles.js';
import { abortErrorFrom, ClosedError } from '../errors.js';
import { checkWaitOptions, describe } from '../options.js';
import { checkIterable, checkMax, deadlineOf, itemsUntilShutDown } from '../queue/common.js';
import type { JoinableQueueLike, QueueLike } from '../queue/contract.js';
import type { GetOptions, PutOptions, SyncGetOptions, SyncPutOptions } from '../queue/options.js';
import { AsyncDriver, evalScript } from './driver.js';
import { decodeItem, encodeItem, type ItemCodec } from './items.js';
import { type Ctx, getOp, joinOp, type Op, putOp, rawScriptOp, scriptOp, taskDoneOp } from './ops.js';
import { type CheckedOptions, checkName, checkOptions, checkUrl, type RedisQueueOptions } from './options.js';
import {
  aliveKey,
  DESTROY,
  HEARTBEAT,
  INIT,
  type Keys,
  keysOf,
  procKey,
  RECLAIM,
  RECOVER,
  SHUTDOWN,
  STATUS,
} from './scripts.js';
import { cloneable, SyncBridge } from './sync-bridge.js';

const kInternal = Symbol('procq.redis.internal');

interface State {
  readonly url: string;
  readonly options: CheckedOptions<any>;
  readonly joinable: boolean;
  readonly driver: AsyncDriver;
  readonly ctx: Ctx;
  readonly consumerId: string | undefined;
  /** A reliable consumer must be registered (heartbeat) before its first take: false for a revived handle. */
  registered: boolean;
  /** Made from a handle in another thread or process (not by `connect`). */
  readonly revived: boolean;
}

/** What a `RedisQueue` handle carries to another thread or process: enough to connect again, nothing secret added. */
interface HandleState {
  readonly url: string;
  readonly name: string;
  readonly joinable: boolean;
  readonly maxsize: number;
  readonly blmpop: boolean;
  readonly options: {
    prefix: string;
    codec: 'json' | undefined;
    reliable: boolean;
    heartbeatMs: number;
    sliceMs: number;
    redis: Record<string, unknown>;
  };
}

interface Status {
  qsize: number;
  maxsize: number;
  state: number;
  unfinished: number;
}

/** Redis 6.2 has BLMOVE, LMOVE and LPOP with a count; 7.0 adds BLMPOP. */
function serverVersion(info: string): [number, number] {
  const m = /redis_version:(\d+)\.(\d+)/.exec(info);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function makeCtx(name: string, o: CheckedOptions<any>, maxsize: number, blmpop: boolean, id?: string): Ctx {
  const keys = keysOf(o.prefix, name);
  let members = 0;
  const memberBase = `${hostname()}:${process.pid}:${crypto().randomUUID()}:`;
  return {
    name,
    keys,
    maxsize,
    reliable: id !== undefined,
    proc: id === undefined ? keys.items : procKey(keys, id),
    blmpop,
    sliceMs: o.sliceMs,
    member: () => memberBase + members++,
  };
}

const newConsumerId = (): string => `${hostname()}:${process.pid}:${crypto().randomUUID()}`;

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
    const wanted = o.maxsize;
    const codecKind = o.codec === 'json' ? 'json' : 'procq';
    const r = (await evalScript(
      driver.cmd,
      INIT,
      [keys.meta],
      [wanted ?? '', joinable ? '1' : '0', codecKind],
    )) as [number, Buffer, Buffer, Buffer];
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
    if (String(r[3]) !== codecKind) {
      throw new TypeError(
        `the Redis queue "${n}" stores items as ${String(r[3]) === 'json' ? "JSON (codec: 'json')" : "procq's encoding"}: connect with the same codec`,
      );
    }
    const reliable = o.reliable ?? joinable;
    const consumerId = reliable ? (o.consumerId ?? newConsumerId()) : undefined;
    const ctx = makeCtx(n, o, maxsize, major >= 7, consumerId);
    if (consumerId !== undefined) {
      await heartbeat(driver, keys, consumerId, o.heartbeatMs);
      // A restarted consumer with the same id gives back what its previous run left unacknowledged.
      if (o.consumerId !== undefined) await recover(driver, ctx, consumerId);
      await recover(driver, ctx, '');
    }
    return { url: u, options: o, joinable, driver, ctx, consumerId, registered: true, revived: false };
  } catch (err) {
    await driver.close();
    throw err;
  }
}

/** The state of a queue revived from a handle: connects at its first command, a new consumer of its own. */
function attach(h: HandleState): State {
  const o = checkOptions<any>({ ...h.options, redis: h.options.redis as RedisOptions });
  const consumerId = h.options.reliable ? newConsumerId() : undefined;
  const driver = AsyncDriver.attach(h.url, o.redis);
  const ctx = makeCtx(h.name, o, h.maxsize, h.blmpop, consumerId);
  return {
    url: h.url,
    options: o,
    joinable: h.joinable,
    driver,
    ctx,
    consumerId,
    registered: consumerId === undefined,
    revived: true,
  };
}

async function heartbeat(driver: AsyncDriver, k: Keys, id: string, ttl: number): Promise<number> {
  return (await driver.run(heartbeatOp(k, id, ttl))) as number;
}

function heartbeatOp(k: Keys, id: string, ttl: number): Op<unknown> {
  return rawScriptOp(HEARTBEAT, [k.meta, k.consumers, aliveKey(k, id)], [id, ttl]);
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
  readonly #codec: ItemCodec;
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
    // A connected queue starts the sync helper now, in the background; a revived one (a worker thread or child
    // that may use only the async forms) at its first sync call.
    if (!state.revived)
      this.#bridge = SyncBridge.shared(state.url, state.options.redis, state.options.sliceMs);
    const { consumerId, driver, ctx, options } = state;
    if (consumerId !== undefined) {
      this.#heartbeat = setInterval(() => {
        heartbeat(driver, ctx.keys, consumerId, options.heartbeatMs)
          .then(() => recover(driver, ctx, ''))
          .then(() => this.#reclaim())
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
    const values = Array.from(checkIterable<T>(items), (x) => encodeItem(x, this.#codec));
    if (values.length === 0) return 0;
    return this._run(putOp(this._ctx, values, deadlineOf(timeoutMs), true), signal);
  }

  putManySync(items: Iterable<T>, options?: SyncPutOptions): number {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    const values = Array.from(checkIterable<T>(items), (x) => encodeItem(x, this.#codec));
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
    return (await this.#take(getOp(this._ctx, 1, deadlineOf(timeoutMs), this.#reclaimKeep), signal))[0]!;
  }

  /** Like `get`, blocking the calling thread (see the class notes). Throws instead of rejecting. */
  getSync(options?: SyncGetOptions): T {
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this.#takeSync(getOp(this._ctx, 1, deadlineOf(timeoutMs), this.#reclaimKeep))[0]!;
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
    return this.#take(getOp(this._ctx, n, deadlineOf(timeoutMs), this.#reclaimKeep), signal);
  }

  getManySync(max: number, options?: SyncGetOptions): T[] {
    const n = checkMax(max);
    const { timeoutMs } = checkWaitOptions(options, false);
    this.#checkOpen();
    return this.#takeSync(getOp(this._ctx, n, deadlineOf(timeoutMs), this.#reclaimKeep));
  }

  /** Reliable delivery: takes of this client under way (their items may be in the processing list). */
  #takesInFlight = 0;
  /** Reliable delivery: acknowledgements sent and not answered yet (their items may still be in the list). */
  #acksInFlight = 0;

  /** The entries of the processing list this client accounts for, when its only take under way is the caller's. */
  readonly #reclaimKeep = (): number | undefined =>
    this.#takesInFlight === 1 ? this.#outstanding.length + this.#acksInFlight : undefined;

  #takeSync(op: Op<Buffer[]>): T[] {
    this.#takesInFlight++;
    try {
      return this.#taken(this._runSync(op));
    } finally {
      this.#takesInFlight--;
    }
  }

  async #take(op: Op<Buffer[]>, signal: AbortSignal | undefined): Promise<T[]> {
    if (!this._ctx.reliable) return this.#taken(await this._run(op, signal));
    this.#takesInFlight++;
    try {
      return this.#taken(await this._run(op, signal));
    } finally {
      this.#takesInFlight--;
    }
  }

  /** Gives back what a take moved into this consumer's processing list without its reply arriving (`RECLAIM`). */
  async #reclaim(): Promise<void> {
    if (this.#takesInFlight > 0 || this.#closed) return;
    const k = this._ctx.keys;
    const keep = this.#outstanding.length + this.#acksInFlight;
    await this._run(rawScriptOp(RECLAIM, [k.items, this._ctx.proc], [keep]));
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
    const acks = this.#outstanding.splice(0, n);
    this.#acksInFlight += n;
    try {
      for (const v of acks) await this._run(taskDoneOp(this._ctx, v, false));
    } finally {
      this.#acksInFlight -= n;
    }
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

  /** @internal the oldest unacknowledged value, for `taskDone`: in flight until `_ackSettled`. */
  protected _nextAck(): Buffer | undefined {
    const v = this.#outstanding.shift();
    if (v !== undefined) this.#acksInFlight++;
    return v;
  }

  /** @internal the acknowledgement of `v` (from `_nextAck`) is over; `failed`: it is unacknowledged again. */
  protected _ackSettled(v: Buffer | undefined, failed: boolean): void {
    if (v === undefined) return;
    this.#acksInFlight--;
    if (failed) this.#outstanding.unshift(v);
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
        bridge?.release();
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
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return itemsUntilShutDown(() => this.get());
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
    const s = this.#state;
    if (!s.registered) return this.#register().then(() => s.driver.run(op, signal));
    return s.driver.run(op, signal);
  }

  /** @internal */
  protected _runSync<R>(op: Op<R>): R {
    const s = this.#state;
    this.#bridge ??= SyncBridge.shared(s.url, s.options.redis, s.options.sliceMs);
    if (!s.registered) {
      this.#bridge.run(heartbeatOp(s.ctx.keys, s.consumerId!, s.options.heartbeatMs));
      s.registered = true;
    }
    return this.#bridge.run(op);
  }

  #registering: Promise<void> | undefined;

  /** A revived reliable consumer registers (heartbeat) before its first take, so a crash never strands an item. */
  #register(): Promise<void> {
    const s = this.#state;
    this.#registering ??= heartbeat(s.driver, s.ctx.keys, s.consumerId!, s.options.heartbeatMs).then(() => {
      s.registered = true;
    });
    return this.#registering;
  }

  /**
   * @internal The handle: a `RedisQueue` in `Process` args, or inside an item of any queue, arrives in the other
   * thread or process as a new client of the same queue (same URL, name and options; a consumer of its own for
   * reliable delivery). A custom `codec` is code and cannot travel: the send fails with a `TypeError`.
   */
  [kHandle](): HandleDescriptor {
    const s = this.#state;
    const o = s.options;
    if (o.codec !== undefined && o.codec !== 'json') {
      throw new TypeError(
        `a RedisQueue with a custom \`codec\` cannot be sent to another thread or process (queue "${s.ctx.name}"): a codec is code, which does not travel. Use \`codec: 'json'\`, or connect in the receiver with the same codec`,
      );
    }
    const state: HandleState = {
      url: s.url,
      name: s.ctx.name,
      joinable: s.joinable,
      maxsize: s.ctx.maxsize,
      blmpop: s.ctx.blmpop,
      options: {
        prefix: o.prefix,
        codec: o.codec,
        reliable: s.consumerId !== undefined,
        heartbeatMs: o.heartbeatMs,
        sliceMs: o.sliceMs,
        redis: cloneable(o.redis),
      },
    };
    return { type: s.joinable ? 'RedisJoinableQueue' : 'RedisQueue', state, portable: true };
  }

  /** @internal */
  static _attach<T>(h: HandleState): RedisQueue<T> {
    const s = attach(h);
    return h.joinable ? new RedisJoinableQueue<T>(kInternal, s) : new RedisQueue<T>(kInternal, s);
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
    let failed = true;
    try {
      this._runSync(taskDoneOp(this._ctx, ack, true));
      failed = false;
    } finally {
      this._ackSettled(ack, failed);
    }
  }

  async taskDoneAsync(): Promise<void> {
    this._checkOpen();
    const ack = this._nextAck();
    let failed = true;
    try {
      await this._run(taskDoneOp(this._ctx, ack, true));
      failed = false;
    } finally {
      this._ackSettled(ack, failed);
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

registerHandle('RedisQueue', (state: HandleState) => RedisQueue._attach(state));
registerHandle('RedisJoinableQueue', (state: HandleState) => RedisQueue._attach(state));
