/**
 * The queue engine: the ring plus locks, waiting, shutdown and the codec. Private; `queue.ts` is its public face.
 *
 * Every public operation comes in three forms that share this code: `…Sync` blocks the thread, the async form
 * awaits (never blocking the event loop), `…Nowait` is the sync form with a zero timeout.
 */

import {
  Arena,
  type Codec,
  copyInto,
  copyStructured,
  decodeStructured,
  detached,
  type FastBuffer,
  isFastItem,
  isStructured,
  Prepared,
  prepare,
  readFast,
  writePayload,
} from '../codec/frames.js';
import { UndecodableBytes } from '../codec/index.js';
import { TAG_BUFFER, TAG_CUSTOM, TAG_UINT8 } from '../codec/tags.js';
import { abortErrorFrom, Empty, Full, ShutDown, TimeoutError } from '../errors.js';
import { subject } from '../inspect/label.js';
import { createSegment, defaultSegmentKind, type Segment, type SegmentKind } from '../memory/index.js';
import { BROKEN, DONE, GET_COUNT, JOIN_ADVERT, PUT_COUNT, putterLowWater, SHUTDOWN } from '../ring/layout.js';
import { lockDeadlineOf } from '../ring/lock.js';
import { ceilPow2, LOCK_BUSY, Ring } from '../ring/ring.js';
import { deadlineOf, WaitWord } from '../wait/index.js';
import { MAX_CAPACITY, MAX_CAPACITY_SAB, RING_MAX_SHM } from './options.js';

const OK = 0;
const FULL = 1; // maxsize reached
const NO_ROOM = 2; // the ring is at its largest and has no room for this frame now
const TOO_BIG = 4; // the frame is larger than the ring can ever be
const SHUT = 3;
const GROW_BUSY = 5; // the ring must grow and the consumer lock was not taken by the deadline
const FAILED = 6; // a batch stopped at an item that failed (its error in #batchError) after putting others

/** How long a `putNowait` into an unbounded queue waits for a producer lock held by another thread. */
const UNBOUNDED_PUT_LOCK_MS = 250;

/** How long `shutdown({ immediate: true })` waits for each ring lock to discard the items. */
const SHUTDOWN_LOCK_MS = 2000;

const SHUTDOWN_OPEN = 0;
const SHUTDOWN_DRAIN = 1;
const SHUTDOWN_IMMEDIATE = 2;

/** A structured item copied out under the consumer lock, decoded after it is released. */
class Copied {
  constructor(
    readonly tag: number,
    readonly bytes: Uint8Array,
  ) {}
}

const NONE: unique symbol = Symbol('none');

function codecMissing(): TypeError {
  return new TypeError(
    'this item was put with a custom codec, and a codec does not travel with a queue: attach it here with `q = q.withCodec(codec)` (the item stays in the queue)',
  );
}
const RESOLVED: Promise<void> = Promise.resolve();

export class QueueEngine {
  readonly seg: Segment;
  readonly ring: Ring;
  readonly i32: Int32Array;
  readonly mem: FastBuffer;
  readonly f64: Float64Array;
  readonly codec: Codec<any> | undefined;
  readonly joinable: boolean;
  /** The queue's `label` option, named in its error messages ("queue 'jobs' is full"). */
  label: string | undefined = undefined;
  /** Joiners sleep on DONE until no task is left. */
  readonly joiners: WaitWord;
  /**
   * Reused for fast-path items, which are prepared inside the producer lock region (no await there, so calls
   * cannot interleave); structured items get their own `Prepared`, encoded before the lock.
   */
  readonly #scratch = new Prepared();
  /**
   * Reused for a structured item of a single put that is written within the same synchronous run as its encoding
   * (its plain bytes borrowed from the codec's scratch: no Prepared, no Buffer per put). A put that must wait
   * asynchronously takes a `detached()` copy first.
   */
  readonly #outside = new Prepared();
  /** The error that stopped a batch of puts part-way (FAILED). */
  #batchError: unknown;

  static create(
    maxsize: number,
    capacity: number,
    codec: Codec<any> | undefined,
    joinable: boolean,
    kind: SegmentKind = defaultSegmentKind(),
  ): QueueEngine {
    // The ring may grow to this many bytes. Only what it touches costs memory, but a SharedArrayBuffer's whole
    // size counts against the process's address-space and V8's limits, so thread-only rings reserve less.
    // PROCQ_TEST_RING_MAX (tests only): a small largest ring, so that tests reach its overflow blocks cheaply.
    const testMax = Number(process.env.PROCQ_TEST_RING_MAX ?? 0);
    const capacityMax =
      testMax >= 64 && (testMax & (testMax - 1)) === 0 && testMax <= MAX_CAPACITY
        ? testMax
        : kind === 'shm'
          ? Math.max(RING_MAX_SHM, ceilPow2(capacity))
          : MAX_CAPACITY_SAB;
    const cap = ceilPow2(Math.min(capacity, capacityMax));
    const seg = createSegment(Ring.segmentSize(capacityMax), kind);
    Ring.initialize(seg, { maxsize: Math.max(maxsize, 0), capacity: cap, capacityMax });
    return new QueueEngine(seg, codec, joinable);
  }

  constructor(seg: Segment, codec: Codec<any> | undefined, joinable: boolean) {
    this.seg = seg;
    this.ring = new Ring(seg);
    this.i32 = seg.i32;
    this.mem = seg.bytes as FastBuffer;
    this.f64 = new Float64Array(seg.bytes.buffer, seg.bytes.byteOffset, seg.byteLength >> 3);
    this.codec = codec;
    this.joinable = joinable;
    this.joiners = new WaitWord(seg, DONE, JOIN_ADVERT);
  }

  // ------------------------------------------------------------------ state

  /** An error message about this queue: "the queue is full", or "queue 'jobs' is full" when labelled. */
  #says(what: string): string {
    return `${subject('queue', this.label)} ${what}`;
  }

  shutdownState(): number {
    return Atomics.load(this.i32, SHUTDOWN);
  }

  shutdown(immediate: boolean): void {
    this.ring.checkBroken();
    const i32 = this.i32;
    if (immediate) {
      Atomics.store(i32, SHUTDOWN, SHUTDOWN_IMMEDIATE);
      const { producerLock, consumerLock } = this.ring;
      // A deadline on both locks: a holder that does not run (stopped) must not hang the shutdown for ever.
      const lockDeadline = deadlineOf(SHUTDOWN_LOCK_MS);
      let discarded = false;
      if (producerLock.acquireSync(lockDeadline)) {
        try {
          if (consumerLock.acquireSync(lockDeadline)) {
            try {
              // Discarded items count as done, so join() returns (Python 3.13).
              this.ring.begin();
              Atomics.add(i32, DONE, this.ring.discardAll());
              this.ring.dropDrainedChain();
              discarded = true;
            } finally {
              consumerLock.release();
            }
          }
        } finally {
          producerLock.release();
        }
      }
      if (!discarded) {
        this.#wakeAll();
        throw new TimeoutError(
          `${this.#says('is shut down')}, but its items could not be discarded: a lock holder did not release it ` +
            `within ${SHUTDOWN_LOCK_MS} ms (a stopped process?); gets fail with ShutDown, join() waits for them`,
        );
      }
    } else {
      Atomics.compareExchange(i32, SHUTDOWN, SHUTDOWN_OPEN, SHUTDOWN_DRAIN);
    }
    this.#wakeAll();
  }

  #wakeAll(): void {
    this.ring.getters.broadcast();
    this.ring.putters.broadcast();
    this.joiners.broadcast();
  }

  // ------------------------------------------------------------------ put

  /**
   * One attempt with the producer lock held. `lockDeadline`: how long growing the ring may wait for the consumer
   * lock (0: not at all; the async forms then wait for it outside the producer lock and retry).
   */
  #putLocked(p: Prepared, lockDeadline: number): number {
    this.ring.checkBroken();
    if (Atomics.load(this.i32, SHUTDOWN) !== SHUTDOWN_OPEN) return SHUT;
    const ring = this.ring;
    ring.begin();
    if (ring.fullWithPending()) return FULL;
    if (p.maxLength > ring.largestPayload()) return TOO_BIG;
    const off = ring.reserve(p.maxLength, lockDeadline);
    if (off < 0) return off === LOCK_BUSY ? GROW_BUSY : NO_ROOM;
    const block = ring.reservedBlock; // an overflow block (layout.ts), or the ring
    const r =
      block === null
        ? writePayload(this.mem, this.f64, this.i32, off, p)
        : writePayload(block.mem, block.f64, block.i32, off, p);
    ring.write(r % 16, Math.floor(r / 16));
    ring.flush();
    return OK;
  }

  /** Wakes one getter per item published. */
  #afterPut(n: number): void {
    this.ring.getters.wake(n);
  }

  /**
   * After GROW_BUSY in an async form: waits (asynchronously, holding nothing) until the consumer lock can be
   * taken, then lets it go for the retry. False at the deadline.
   */
  async #consumerLockFree(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const lock = this.ring.consumerLock;
    if (!(await lock.acquire(lockDeadlineOf(deadline), signal))) return false;
    lock.release();
    return true;
  }

  /**
   * Ready to retry a put: room, or shut down (or broken). `seen` is `takesSeen()` after the attempt failed: a
   * GET_COUNT read no later than the HEAD that showed no room, so a take since moves GET_COUNT away from it. A putter that
   * found the queue full waits for the low-water mark (layout.ts: putters wait with hysteresis); at its deadline,
   * any room will do.
   */
  #roomOrShut(result: number, seen: number, deadline: number): () => boolean {
    const ring = this.ring;
    const i32 = this.i32;
    const low = putterLowWater(ring.maxsize);
    return result === FULL
      ? () => ring.size() <= low || this.#shutOrBroken() || (performance.now() >= deadline && !ring.isFull())
      : () => Atomics.load(i32, GET_COUNT) !== seen || this.#shutOrBroken();
  }

  /** After a slice with no wake-up: a putter takes any room (wakes come only at the low-water mark). */
  #notFull = (): boolean => !this.ring.isFull();

  /** After a take of `n` items: wakes up to `n` putters, for a bounded queue only at its low-water mark. */
  #wakePutters(n: number): void {
    const ring = this.ring;
    const putters = ring.putters;
    if (!putters.anyoneWaiting()) return;
    if (ring.maxsize > 0 && ring.size() > putterLowWater(ring.maxsize) && !ring.atLargest()) return;
    putters.wake(n);
  }

  #shutOrBroken(): boolean {
    return Atomics.load(this.i32, SHUTDOWN) !== SHUTDOWN_OPEN || Atomics.load(this.i32, BROKEN) !== 0;
  }

  /**
   * The item prepared outside the lock when it is structured, else null (prepared in the lock region). `reuse`:
   * into this handle's `#outside`, bytes borrowed; the caller writes it before anything else can encode.
   */
  #prepareOutside(item: unknown, reuse = false, arena: Arena | null = null): Prepared | null {
    if (this.codec === undefined && isFastItem(item)) return null;
    const p = reuse ? this.#outside : new Prepared();
    prepare(item, p, this.codec, reuse, arena);
    return p;
  }

  /** A batch's items prepared outside the lock, plain objects' bytes in one arena. */
  #prepareMany(list: unknown[]): (Prepared | null)[] {
    const arena = new Arena();
    const ps = new Array<Prepared | null>(list.length);
    for (let i = 0; i < list.length; i++) ps[i] = this.#prepareOutside(list[i], false, arena);
    return ps;
  }

  #scratchFor(item: unknown): Prepared {
    prepare(item, this.#scratch, undefined);
    return this.#scratch;
  }

  /**
   * The deadline for taking the producer lock: `LOCK_GRACE_MS` past the call's own. An unbounded queue is never
   * full, so there a `putNowait` (timeout 0: "do not wait for room", and there is always room) waits for a holder
   * that runs for up to `UNBOUNDED_PUT_LOCK_MS`, as Python's `put_nowait` takes its lock; a put with a timeout keeps
   * to it. On an unbounded queue a holder that does not let go (stopped) fails the put with `TimeoutError`, never
   * `Full`.
   */
  #putLockDeadline(deadline: number, timeoutMs: number): number {
    const grace = lockDeadlineOf(deadline);
    return this.ring.maxsize > 0 || timeoutMs > 0
      ? grace
      : Math.max(grace, performance.now() + UNBOUNDED_PUT_LOCK_MS);
  }

  /** What a put that could not go on by its deadline throws: `Full`, or `TimeoutError` on an unbounded queue. */
  #putTimedOut(producerLock: boolean, suffix = ''): Error {
    if (this.ring.maxsize > 0) return new Full(`${this.#says('is full')}${suffix}`);
    const which = producerLock ? 'producer' : 'consumer';
    return new TimeoutError(
      `${this.#says(`is unbounded, but its ${which} lock was held past the deadline by a thread that did not let go (stopped?)`)}${suffix}`,
    );
  }

  putSync(item: unknown, timeoutMs: number): void {
    // Borrowed bytes stay valid: nothing else runs in this thread until the put returns (a blocked thread).
    const pre = this.#prepareOutside(item, true);
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.producerLock;
    for (;;) {
      if (!lock.acquireSync(this.#putLockDeadline(deadline, timeoutMs))) throw this.#putTimedOut(true);
      let r: number;
      let seen: number;
      try {
        r = this.#putLocked(pre ?? this.#scratchFor(item), this.#putLockDeadline(deadline, timeoutMs));
      } finally {
        seen = this.ring.takesSeen();
        lock.release();
      }
      if (r === OK) {
        this.#afterPut(1);
        return;
      }
      const failure = this.#failureOf(r);
      if (failure) throw failure;
      if (r === GROW_BUSY) throw this.#putTimedOut(false);
      if (!this.ring.putters.waitSync(this.#roomOrShut(r, seen, deadline), deadline, this.#notFull))
        throw new Full(this.#says('is full'));
    }
  }

  /**
   * The async put. When the producer lock is free and there is room, the whole put happens synchronously and an
   * already-settled Promise is returned: no async frame, no extra turn of the event loop.
   */
  put(item: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal));
    let pre: Prepared | null;
    try {
      pre = this.#prepareOutside(item, true);
    } catch (err) {
      return Promise.reject(err);
    }
    const lock = this.ring.producerLock;
    if (lock.tryAcquire()) {
      let r: number;
      try {
        r = this.#putLocked(pre ?? this.#scratchFor(item), 0);
      } catch (err) {
        return Promise.reject(err);
      } finally {
        lock.release();
      }
      if (r === OK) {
        this.#afterPut(1);
        return RESOLVED;
      }
      const failure = this.#failureOf(r);
      if (failure) return Promise.reject(failure);
    }
    return this.#putSlow(item, pre === null ? null : detached(pre), timeoutMs, signal);
  }

  async #putSlow(
    item: unknown,
    pre: Prepared | null,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.producerLock;
    for (;;) {
      if (!lock.tryAcquire() && !(await lock.acquire(this.#putLockDeadline(deadline, timeoutMs), signal)))
        throw this.#putTimedOut(true);
      let r: number;
      let seen: number;
      try {
        r = this.#putLocked(pre ?? this.#scratchFor(item), 0);
      } finally {
        seen = this.ring.takesSeen();
        lock.release();
      }
      if (r === OK) return this.#afterPut(1);
      const failure = this.#failureOf(r);
      if (failure) throw failure;
      const ready =
        r === GROW_BUSY
          ? await this.#consumerLockFree(deadline, signal)
          : await this.ring.putters.wait(
              this.#roomOrShut(r, seen, deadline),
              deadline,
              signal,
              this.#notFull,
            );
      if (!ready) throw r === GROW_BUSY ? this.#putTimedOut(false) : new Full(this.#says('is full'));
    }
  }

  /** Puts many items with as few lock round trips and publishes as room allows. Returns how many were put. */
  #putManyLocked(
    items: unknown[],
    ps: (Prepared | null)[],
    from: number,
    lockDeadline: number,
  ): { n: number; r: number } {
    this.ring.checkBroken();
    if (Atomics.load(this.i32, SHUTDOWN) !== SHUTDOWN_OPEN) return { n: 0, r: SHUT };
    const ring = this.ring;
    ring.begin();
    let i = from;
    let r = OK;
    try {
      for (; i < ps.length; i++) {
        if (ring.fullWithPending()) {
          r = FULL;
          break;
        }
        const p = ps[i] ?? this.#scratchFor(items[i]);
        if (p.maxLength > ring.largestPayload()) {
          r = TOO_BIG;
          break;
        }
        const off = ring.reserve(p.maxLength, lockDeadline);
        if (off < 0) {
          r = off === LOCK_BUSY ? GROW_BUSY : NO_ROOM;
          break;
        }
        const block = ring.reservedBlock;
        const w =
          block === null
            ? writePayload(this.mem, this.f64, this.i32, off, p)
            : writePayload(block.mem, block.f64, block.i32, off, p);
        ring.write(w % 16, Math.floor(w / 16));
      }
    } catch (err) {
      // A full /dev/shm (or a broken queue) at item i: the items before it are published, and counted.
      if (i === from) throw err;
      this.#batchError = err;
      r = FAILED;
    }
    ring.flush();
    return { n: i - from, r };
  }

  async putMany(
    items: Iterable<unknown>,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    if (signal?.aborted) throw abortErrorFrom(signal);
    const list = Array.isArray(items) ? items : [...items];
    const ps = this.#prepareMany(list);
    const progress = { done: 0 };
    try {
      return await this.#putManyAsync(list, ps, timeoutMs, signal, progress);
    } catch (err) {
      // Whatever stopped it (abort, shutdown, timeout), say how many of the items were put: the first `putCount`.
      if (err !== null && typeof err === 'object' && !('putCount' in err)) {
        Object.assign(err, { putCount: progress.done });
      }
      throw err;
    }
  }

  async #putManyAsync(
    list: unknown[],
    ps: (Prepared | null)[],
    timeoutMs: number,
    signal: AbortSignal | undefined,
    progress: { done: number },
  ): Promise<number> {
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.producerLock;
    let done = 0;
    while (done < ps.length) {
      if (!lock.tryAcquire() && !(await lock.acquire(this.#putLockDeadline(deadline, timeoutMs), signal))) {
        throw this.#batchFailure(this.#putTimedOut(true, `: ${done} of ${ps.length} items were put`), done);
      }
      let res: { n: number; r: number };
      let seen: number;
      try {
        res = this.#putManyLocked(list, ps, done, 0);
      } finally {
        seen = this.ring.takesSeen();
        lock.release();
      }
      done += res.n;
      progress.done = done;
      if (res.n > 0) this.#afterPut(res.n);
      if (done === ps.length) break;
      const failure = this.#failureOf(res.r);
      if (failure) throw this.#batchFailure(failure, done);
      const ready =
        res.r === GROW_BUSY
          ? await this.#consumerLockFree(deadline, signal)
          : await this.ring.putters.wait(
              this.#roomOrShut(res.r, seen, deadline),
              deadline,
              signal,
              this.#notFull,
            );
      if (!ready) {
        const suffix = `: ${done} of ${ps.length} items were put`;
        const err =
          res.r === GROW_BUSY
            ? this.#putTimedOut(false, suffix)
            : new Full(`${this.#says('is full')}${suffix}`);
        throw this.#batchFailure(err, done);
      }
    }
    return done;
  }

  putManySync(items: Iterable<unknown>, timeoutMs: number): number {
    const list = Array.isArray(items) ? items : [...items];
    const ps = this.#prepareMany(list);
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.producerLock;
    let done = 0;
    while (done < ps.length) {
      const full = () =>
        this.#batchFailure(
          new Full(`${this.#says('is full')}: ${done} of ${ps.length} items were put`),
          done,
        );
      const suffix = `: ${done} of ${ps.length} items were put`;
      if (!lock.acquireSync(this.#putLockDeadline(deadline, timeoutMs))) {
        throw this.#batchFailure(this.#putTimedOut(true, suffix), done);
      }
      let res: { n: number; r: number };
      let seen: number;
      try {
        res = this.#putManyLocked(list, ps, done, this.#putLockDeadline(deadline, timeoutMs));
      } finally {
        seen = this.ring.takesSeen();
        lock.release();
      }
      done += res.n;
      if (res.n > 0) this.#afterPut(res.n);
      if (done === ps.length) break;
      const failure = this.#failureOf(res.r);
      if (failure) throw this.#batchFailure(failure, done);
      if (res.r === GROW_BUSY)
        throw this.#batchFailure(this.#putTimedOut(false, `: ${done} of ${ps.length} items were put`), done);
      if (!this.ring.putters.waitSync(this.#roomOrShut(res.r, seen, deadline), deadline, this.#notFull)) {
        throw full();
      }
    }
    return done;
  }

  // ------------------------------------------------------------------ get

  /** Takes up to `max` items into `out` with the consumer lock held. */
  #takeLocked(out: unknown[], max: number): void {
    const ring = this.ring;
    const mem = this.mem;
    ring.beginTake();
    while (out.length < max && ring.available() > 0) {
      const tag = ring.peek();
      if (!this.#canDecode(tag)) {
        if (out.length === 0) throw codecMissing();
        break; // return what comes before it; the next get reports it
      }
      const off = ring.payloadOffset();
      const len = ring.payloadLength();
      const block = ring.peekedBlock; // an overflow block (layout.ts), or the ring
      out.push(
        isStructured(tag)
          ? new Copied(tag, copyStructured(block === null ? mem : block.mem, tag, off, len))
          : this.#readFast(tag, off, len),
      );
      ring.next();
    }
    ring.commitTake();
  }

  /**
   * One item with the consumer lock held, or NONE. The hot path of get: no array. With `into`, a byte array that
   * fits is copied into it and returned as a view of it (getInto).
   */
  #takeOneLocked(into?: Uint8Array): unknown {
    const ring = this.ring;
    ring.beginTake();
    if (ring.available() <= 0) return NONE;
    const tag = ring.peek();
    if (!this.#canDecode(tag)) throw codecMissing(); // before next(): the item stays in the queue
    const off = ring.payloadOffset();
    const len = ring.payloadLength();
    const block = ring.peekedBlock; // an overflow block (layout.ts), or the ring
    const v =
      into !== undefined && (tag === TAG_UINT8 || tag === TAG_BUFFER) && len <= into.byteLength
        ? copyInto(block === null ? this.mem : block.mem, tag, off, len, into)
        : isStructured(tag)
          ? new Copied(tag, copyStructured(block === null ? this.mem : block.mem, tag, off, len))
          : this.#readFast(tag, off, len);
    ring.next();
    ring.commitTake();
    return v;
  }

  /** The error a failed put attempt ends with, or undefined when it should wait for room (FULL, NO_ROOM). */
  #failureOf(r: number): Error | undefined {
    if (r === SHUT) return new ShutDown(this.#says('has been shut down'));
    if (r === FAILED) {
      const err = this.#batchError as Error;
      this.#batchError = undefined;
      return err;
    }
    if (r === TOO_BIG) return this.#tooBig();
    return undefined;
  }

  /** The error a `putMany` ends with after putting its first `done` items: it says so in `putCount`. */
  #batchFailure(error: Error, done: number): Error {
    return Object.assign(error, { putCount: done });
  }

  #tooBig(): RangeError {
    const mib = Math.floor(this.ring.largestPayload() / (1 << 20));
    return new RangeError(
      this.ring.chainable
        ? `the item is larger than the largest item a queue takes (${mib} MiB); the queue is unchanged`
        : `the item is larger than this queue's ring can ever grow (${mib} MiB${this.seg.kind === 'sab' ? ', the limit without the native addon' : ''}); the queue is unchanged`,
    );
  }

  /** A frame put with a custom codec cannot be decoded by a handle without one. */
  #canDecode(tag: number): boolean {
    return tag !== TAG_CUSTOM || this.codec !== undefined;
  }

  /** A fast-path frame's value; a payload that does not decode (corrupt memory) breaks the queue. */
  #readFast(tag: number, off: number, len: number): unknown {
    try {
      const block = this.ring.peekedBlock;
      if (block !== null) return readFast(block.mem, block.f64, tag, off, len);
      return readFast(this.mem, this.f64, tag, off, len);
    } catch (err) {
      this.ring.failPayload(err);
    }
  }

  /** A structured item's value, decoded after the consumer lock is released. */
  #decode(v: Copied): unknown {
    try {
      return decodeStructured(v.tag, v.bytes, this.codec);
    } catch (err) {
      if (err instanceof UndecodableBytes) this.ring.failPayload(err);
      throw err;
    }
  }

  /** A pending retry of {@link Ring.tryShrink} (armed once, unref'd: it never keeps a process alive). */
  #shrinkTimer: ReturnType<typeof setTimeout> | undefined;

  /** After a take: a drained ring gives its extra memory back now, or once it has not grown for a while. */
  #shrinkIfDrained(): void {
    let delay = this.ring.shrinkDelay();
    if (delay < 0) return;
    if (delay === 0) {
      try {
        if (this.ring.tryShrink()) return;
      } catch {
        return; // a broken queue: the next call reports it
      }
      // Dropped a drained chain but not yet the ring's growth, or a lock was busy: look again later.
      delay = this.ring.shrinkDelay();
      if (delay < 0) return;
    }
    if (this.#shrinkTimer !== undefined) return;
    this.#shrinkTimer = setTimeout(() => {
      this.#shrinkTimer = undefined;
      this.#shrinkIfDrained();
    }, delay + 1);
    this.#shrinkTimer.unref?.();
  }

  #finish(v: unknown): unknown {
    if (this.ring.drainedAsSeen()) this.#shrinkIfDrained();
    this.#wakePutters(1);
    return v instanceof Copied ? this.#decode(v) : v;
  }

  #itemOrShut = (): boolean => this.ring.size() > 0 || this.#shutOrBroken();

  /** Throws ShutDown when gets must fail now: immediate shutdown, or shut down and drained (InvariantError: broken). */
  #checkShut(): void {
    this.ring.checkBroken();
    const s = Atomics.load(this.i32, SHUTDOWN);
    if (s === SHUTDOWN_IMMEDIATE || (s === SHUTDOWN_DRAIN && this.ring.size() <= 0))
      throw new ShutDown(this.#says('has been shut down'));
  }

  getSync(timeoutMs: number, into?: Uint8Array): unknown {
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.consumerLock;
    for (;;) {
      this.#checkShut();
      if (this.ring.mayHaveItems()) {
        if (!lock.acquireSync(lockDeadlineOf(deadline))) throw new Empty(this.#says('is empty'));
        let v: unknown;
        try {
          v = this.#takeOneLocked(into);
        } finally {
          lock.release();
        }
        if (v !== NONE) return this.#finish(v);
        continue;
      }
      if (!this.ring.getters.waitSync(this.#itemOrShut, deadline)) throw new Empty(this.#says('is empty'));
    }
  }

  /**
   * The async get. When an item is there and the consumer lock is free, it is taken synchronously and an
   * already-settled Promise is returned.
   */
  get(timeoutMs: number, signal: AbortSignal | undefined, into?: Uint8Array): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal));
    const s = Atomics.load(this.i32, SHUTDOWN);
    if (s === SHUTDOWN_OPEN && this.ring.mayHaveItems()) {
      const lock = this.ring.consumerLock;
      if (lock.tryAcquire()) {
        let v: unknown;
        try {
          v = this.#takeOneLocked(into);
        } catch (err) {
          return Promise.reject(err);
        } finally {
          lock.release();
        }
        if (v !== NONE) {
          try {
            return Promise.resolve(this.#finish(v));
          } catch (err) {
            return Promise.reject(err);
          }
        }
      }
    }
    return this.#getSlow(timeoutMs, signal, into);
  }

  async #getSlow(timeoutMs: number, signal: AbortSignal | undefined, into?: Uint8Array): Promise<unknown> {
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.consumerLock;
    for (;;) {
      this.#checkShut();
      if (this.ring.mayHaveItems()) {
        if (!lock.tryAcquire() && !(await lock.acquire(lockDeadlineOf(deadline), signal)))
          throw new Empty(this.#says('is empty'));
        let v: unknown;
        try {
          v = this.#takeOneLocked(into);
        } finally {
          lock.release();
        }
        if (v !== NONE) return this.#finish(v);
        continue;
      }
      if (!(await this.ring.getters.wait(this.#itemOrShut, deadline, signal)))
        throw new Empty(this.#says('is empty'));
    }
  }

  #finishMany(out: unknown[]): unknown[] {
    if (this.ring.drainedAsSeen()) this.#shrinkIfDrained();
    this.#wakePutters(out.length);
    for (let i = 0; i < out.length; i++) {
      const v = out[i];
      if (v instanceof Copied) out[i] = this.#decode(v);
    }
    return out;
  }

  getManySync(max: number, timeoutMs: number): unknown[] {
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.consumerLock;
    const out: unknown[] = [];
    for (;;) {
      this.#checkShut();
      if (this.ring.mayHaveItems()) {
        if (!lock.acquireSync(lockDeadlineOf(deadline))) throw new Empty(this.#says('is empty'));
        try {
          this.#takeLocked(out, max);
        } finally {
          lock.release();
        }
        if (out.length > 0) return this.#finishMany(out);
        continue;
      }
      if (!this.ring.getters.waitSync(this.#itemOrShut, deadline)) throw new Empty(this.#says('is empty'));
    }
  }

  async getMany(max: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown[]> {
    if (signal?.aborted) throw abortErrorFrom(signal);
    const deadline = deadlineOf(timeoutMs);
    const lock = this.ring.consumerLock;
    const out: unknown[] = [];
    for (;;) {
      this.#checkShut();
      if (this.ring.mayHaveItems()) {
        if (!lock.tryAcquire() && !(await lock.acquire(lockDeadlineOf(deadline), signal)))
          throw new Empty(this.#says('is empty'));
        try {
          this.#takeLocked(out, max);
        } finally {
          lock.release();
        }
        if (out.length > 0) return this.#finishMany(out);
        continue;
      }
      if (!(await this.ring.getters.wait(this.#itemOrShut, deadline, signal)))
        throw new Empty(this.#says('is empty'));
    }
  }

  // ------------------------------------------------------------------ JoinableQueue

  /** `qsize()`: items in the queue (InvariantError when the queue is broken). */
  size(): number {
    this.ring.checkBroken();
    return this.ring.size();
  }

  /** `full()`: `maxsize` items are in the queue (InvariantError when the queue is broken). */
  isFull(): boolean {
    this.ring.checkBroken();
    return this.ring.isFull();
  }

  /** Items put and not yet marked done: `PUT_COUNT - DONE` (see layout.ts). */
  unfinished(): number {
    return (Atomics.load(this.i32, PUT_COUNT) - Atomics.load(this.i32, DONE)) | 0;
  }

  taskDone(): void {
    this.ring.checkBroken();
    const i32 = this.i32;
    for (;;) {
      const done = Atomics.load(i32, DONE);
      const left = (Atomics.load(i32, PUT_COUNT) - done) | 0;
      if (left <= 0) throw new RangeError('taskDone() called more times than there were items put');
      if (Atomics.compareExchange(i32, DONE, done, (done + 1) | 0) === done) {
        if (left === 1) this.joiners.wake(Number.POSITIVE_INFINITY);
        return;
      }
    }
  }

  #noneUnfinished = (): boolean => this.unfinished() <= 0 || Atomics.load(this.i32, BROKEN) !== 0;

  joinSync(timeoutMs: number): boolean {
    this.ring.checkBroken();
    const r = this.joiners.waitSync(this.#noneUnfinished, deadlineOf(timeoutMs));
    this.ring.checkBroken();
    return r;
  }

  async join(timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    this.ring.checkBroken();
    const r = await this.joiners.wait(this.#noneUnfinished, deadlineOf(timeoutMs), signal);
    this.ring.checkBroken();
    return r;
  }
}
