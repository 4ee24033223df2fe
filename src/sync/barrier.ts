/**
 * `Barrier`: Python's `multiprocessing.Barrier`, where a fixed number of parties wait for each other.
 *
 * ```ts
 * const barrier = new Barrier(3, () => console.log('all here'), 5000);   // action and default timeout optional
 * const index = await barrier.wait();          // 0 .. parties-1, in order of arrival
 * ```
 *
 * As in Python: the last party to arrive runs `action` before anyone is released; a timeout, an `abort()`, or an
 * action that throws breaks the barrier, and every waiting and later `wait` throws `BrokenBarrierError` until
 * `reset()`. `reset()` throws `BrokenBarrierError` in the parties waiting at that moment and makes the barrier
 * usable again.
 *
 * The action is a function, and functions do not cross threads or processes: a copy of the barrier received in
 * another thread or process has no action of its own. When the last party's copy lacks it, a waiting party whose
 * copy has it (typically the creator) runs it; when no party of that round has it, the round completes without
 * it, with a `PROCQ_BARRIER_ACTION` warning.
 *
 * Layout (one segment, 16 words):
 * ```
 *  word         written by                       invariant
 *  +0 KIND      creator                          KIND_BARRIER, never changes
 *  +1 PARTIES   creator                          >= 1, never changes
 *  +2 TIMEOUT   creator                          default timeout in ms (-1: none), never changes
 *  +3 LOCK      SharedLock (ring/lock.ts)        guards +5 .. +14; its dead-owner recovery breaks the barrier
 *                                                (OWNER of wait/owner-word.ts; START at +15)
 *  +4 LOCK_WAIT sleepers on LOCK                 atomic add/sub
 *  +5 GEN       trip / reset (+1, wraps)         the round now filling; a waiter remembers its round
 *  +6 COUNT     arrivals                         parties arrived in round GEN: 0 <= COUNT <= PARTIES
 *  +7 BROKEN    break (timeout/abort/throw);     1: broken until reset()
 *               reset clears
 *  +8 EPOCH     every change a waiter must see   +1 (wraps) after GEN/BROKEN/HANDOFF change; waiters sleep on it
 *  +9 SLEEP     sleepers on EPOCH                atomic add/sub; wake all only when > 0
 * +10 +11 RESET bits                             bit (round mod 64) = 1 when that round ended by reset(), 0 when
 *                                                it tripped; written before GEN moves on
 * +12 HAS_ACT   creator                          1 when the creator gave an action; never changes
 * +13 HOLDERS   arrivals / trip / reset          waiting parties of round GEN whose copy has the action
 * +14 HANDOFF   the last arrival                 1: round GEN is full and waits for a holder to run the action
 * +15 LOCK_START the LOCK holder                  its start time while it holds LOCK
 * ```
 * A waiter of round g is released when GEN != g (tripped, or reset: the RESET bit of g tells which) or BROKEN.
 */
import { shareable } from '../codec/handles.js';
import { abortErrorFrom, BrokenBarrierError } from '../errors.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { BarrierStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { barrierStats } from '../inspect/stats.js';
import { SharedLock } from '../ring/lock.js';
import { deadlineOf, WaitWord } from '../wait/index.js';
import {
  allocate,
  attachPlace,
  checkWaitArg,
  describe,
  KIND_BARRIER,
  type Place,
  type PlaceState,
  publishKind,
  rejecting,
  type SyncWaitOptions,
  stateOf,
  type WaitOptions,
} from './core.js';

const PARTIES = 1;
const TIMEOUT = 2;
const LOCK = 3;
const LOCK_WAIT = 4;
const GEN = 5;
const COUNT = 6;
const BROKEN = 7;
const EPOCH = 8;
const SLEEP = 9;
const RESET_BITS = 10;
const HAS_ACT = 12;
const HOLDERS = 13;
const HANDOFF = 14;
const LOCK_START = 15;
const WORDS = 16;
const MAX_TIMEOUT = 0x7fffffff;

const kAttach = Symbol('procq.attach');

/** What a wait found when it was released. */
const TRIPPED = 0;
const BROKE = 1;
const WAIT_ON = 2;

export class Barrier {
  readonly #place: Place;
  readonly #i32: Int32Array;
  readonly #lock: SharedLock;
  readonly #sleepers: WaitWord;
  readonly #action: (() => void) | undefined;

  /**
   * @param parties How many must call `wait` (an integer >= 1).
   * @param action Called by one party (the last to arrive, when its copy has it) before all are released.
   * @param timeout Default timeout of `wait`, in milliseconds.
   * @param options `label`: a name for people, shown by `procq ls` and in `stats()`.
   */
  constructor(
    parties: number,
    action?: (() => void) | null,
    timeout?: number | null,
    options?: { label?: string },
  );
  /** @internal */
  constructor(attach: typeof kAttach, place: Place);
  constructor(
    parties: number | typeof kAttach,
    action?: (() => void) | null | Place,
    timeout?: number | null,
    options?: { label?: string },
  ) {
    if (parties === kAttach) {
      this.#place = action as Place;
      this.#action = undefined;
    } else {
      checkParties(parties);
      if (action !== undefined && action !== null && typeof action !== 'function') {
        throw new TypeError(`Expected \`action\` to be a function, got ${describe(action)}`);
      }
      const t = checkWaitArg(timeout, false).timeoutMs;
      const seg = allocate(WORDS);
      this.#place = { seg, base: 0, label: labelOf(options) };
      seg.i32[PARTIES] = parties;
      seg.i32[TIMEOUT] = t === Number.POSITIVE_INFINITY ? -1 : Math.min(Math.ceil(t), MAX_TIMEOUT);
      seg.i32[HAS_ACT] = typeof action === 'function' ? 1 : 0;
      this.#action = typeof action === 'function' ? (action as () => void) : undefined;
      publishKind(this.#place, KIND_BARRIER);
      registerCreated('Barrier', this.#place);
    }
    const { seg, base } = this.#place;
    this.#i32 = seg.i32;
    // A holder that died mid-update (or mid-action) leaves the round undecidable: recovery breaks it.
    this.#lock = new SharedLock(
      seg,
      { lock: base + LOCK, start: base + LOCK_START, waiters: base + LOCK_WAIT },
      () => {
        this.#break();
        this.#wake();
      },
    );
    this.#sleepers = new WaitWord(seg, base + EPOCH, base + SLEEP);
  }

  /** How many parties must wait for the barrier to trip. */
  get parties(): number {
    return this.#word(PARTIES);
  }

  /** How many parties wait now (0 when broken). */
  get nWaiting(): number {
    return this.#word(BROKEN) === 1 ? 0 : this.#word(COUNT);
  }

  /** A snapshot for metrics and `procq ls`: parties, how many wait, broken. */
  stats(): BarrierStats {
    return barrierStats(this.#place);
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** Whether the barrier is broken (until `reset()`). */
  get broken(): boolean {
    return this.#word(BROKEN) === 1;
  }

  /**
   * Waits until all parties have called `wait`; resolves this party's index (0 .. parties-1, in order of
   * arrival). `timeout` (ms, or `{ timeout, signal }`) defaults to the constructor's. Rejects with
   * `BrokenBarrierError` when the barrier is or becomes broken (a timeout breaks it), or is reset meanwhile.
   *
   * Abort safety: aborting breaks the barrier, as a timeout does (the other parties get `BrokenBarrierError`),
   * unless it had already tripped.
   */
  wait(timeout?: number | null | WaitOptions): Promise<number> {
    return rejecting(async () => {
      const { timeoutMs, signal } = checkWaitArg(timeout, true);
      if (signal?.aborted) throw abortErrorFrom(signal);
      const deadline = deadlineOf(this.#defaultTimeout(timeout, timeoutMs));
      await this.#lock.acquire(Number.POSITIVE_INFINITY, signal);
      const { round, index, done } = this.#arrive();
      if (done) return index;
      for (;;) {
        let released: boolean;
        try {
          released = await this.#sleepers.wait(this.#releasedFrom(round), deadline, signal);
        } catch (err) {
          if (!this.#lock.tryAcquire()) await this.#lock.acquire();
          if (this.#giveUp(round) === TRIPPED) return index;
          throw err;
        }
        if (!this.#lock.tryAcquire()) await this.#lock.acquire();
        const outcome = released ? this.#settle(round) : this.#giveUp(round);
        if (outcome === TRIPPED) return index;
        if (outcome === BROKE) throw new BrokenBarrierError();
      }
    });
  }

  /** Like `wait`, blocking the calling thread. */
  waitSync(timeout?: number | null | SyncWaitOptions): number {
    const { timeoutMs } = checkWaitArg(timeout, false);
    const deadline = deadlineOf(this.#defaultTimeout(timeout, timeoutMs));
    this.#lock.acquireSync();
    const { round, index, done } = this.#arrive();
    if (done) return index;
    for (;;) {
      const released = this.#sleepers.waitSync(this.#releasedFrom(round), deadline);
      this.#lock.acquireSync();
      const outcome = released ? this.#settle(round) : this.#giveUp(round);
      if (outcome === TRIPPED) return index;
      if (outcome === BROKE) throw new BrokenBarrierError();
    }
  }

  /** Breaks the barrier: waiting and later `wait`s throw `BrokenBarrierError` until `reset()`. */
  abort(): void {
    this.#lock.acquireSync();
    try {
      this.#break();
    } finally {
      this.#lock.release();
    }
    this.#wake();
  }

  /** Makes the barrier usable again; parties waiting now throw `BrokenBarrierError`. */
  reset(): void {
    const i32 = this.#i32;
    const base = this.#place.base;
    this.#lock.acquireSync();
    try {
      if (i32[base + COUNT]! > 0 || i32[base + BROKEN] === 1) {
        const g = i32[base + GEN]!;
        this.#setResetBit(g, true);
        i32[base + COUNT] = 0;
        i32[base + HOLDERS] = 0;
        i32[base + HANDOFF] = 0;
        Atomics.store(i32, base + BROKEN, 0);
        Atomics.store(i32, base + GEN, (g + 1) | 0);
        Atomics.add(i32, base + EPOCH, 1);
      }
    } finally {
      this.#lock.release();
    }
    this.#wake();
  }

  // ---------------------------------------------------------------- internals (lock held where said)

  #word(w: number): number {
    return Atomics.load(this.#i32, this.#place.base + w);
  }

  #defaultTimeout(arg: unknown, timeoutMs: number): number {
    const given =
      typeof arg === 'number' ||
      (typeof arg === 'object' && arg !== null && (arg as WaitOptions).timeout !== undefined);
    const t = this.#word(TIMEOUT);
    return given || t < 0 ? timeoutMs : t;
  }

  /** Lock held; releases it. Counts this party in; trips the round when it is the last (running the action). */
  #arrive(): { round: number; index: number; done: boolean } {
    const i32 = this.#i32;
    const base = this.#place.base;
    let locked = true;
    try {
      if (i32[base + BROKEN] === 1) throw new BrokenBarrierError();
      const round = i32[base + GEN]!;
      const index = i32[base + COUNT]!;
      i32[base + COUNT] = index + 1;
      if (index + 1 < i32[base + PARTIES]!) {
        if (this.#action !== undefined) i32[base + HOLDERS]++;
        return { round, index, done: false };
      }
      if (i32[base + HAS_ACT] === 1 && this.#action === undefined && i32[base + HOLDERS]! > 0) {
        i32[base + HANDOFF] = 1; // a waiting party whose copy has the action runs it and trips the round
        Atomics.add(i32, base + EPOCH, 1);
        this.#lock.release();
        locked = false;
        this.#wake();
        return { round, index, done: false };
      }
      if (i32[base + HAS_ACT] === 1 && this.#action === undefined) {
        process.emitWarning(
          'procq: a Barrier round completed without its action: no party of the round holds it (a function ' +
            'does not cross threads or processes; the copy that was given the action must be a party)',
          { code: 'PROCQ_BARRIER_ACTION' },
        );
      }
      locked = false; // #trip releases it, even when the action throws
      this.#trip(round);
      return { round, index, done: true };
    } finally {
      if (locked) this.#lock.release();
    }
  }

  /** Lock held; releases it. Runs the action (if this copy has it), then releases the round; rethrows its error. */
  #trip(round: number): void {
    const i32 = this.#i32;
    const base = this.#place.base;
    try {
      if (this.#action !== undefined && i32[base + HAS_ACT] === 1) this.#action();
    } catch (err) {
      this.#break();
      this.#lock.release();
      this.#wake();
      throw err;
    }
    this.#setResetBit(round, false);
    i32[base + COUNT] = 0;
    i32[base + HOLDERS] = 0;
    i32[base + HANDOFF] = 0;
    Atomics.store(i32, base + GEN, (round + 1) | 0);
    Atomics.add(i32, base + EPOCH, 1);
    this.#lock.release();
    this.#wake();
  }

  #releasedFrom(round: number): () => boolean {
    const i32 = this.#i32;
    const base = this.#place.base;
    const holder = this.#action !== undefined;
    return () =>
      Atomics.load(i32, base + GEN) !== round ||
      Atomics.load(i32, base + BROKEN) === 1 ||
      (holder && Atomics.load(i32, base + HANDOFF) === 1);
  }

  /** Lock held; releases it. What a released waiter of `round` does: return, throw, or run a handed-off action. */
  #settle(round: number): number {
    const i32 = this.#i32;
    const base = this.#place.base;
    if (Atomics.load(i32, base + GEN) !== round) {
      this.#lock.release();
      return this.#resetBit(round) ? BROKE : TRIPPED;
    }
    if (i32[base + BROKEN] === 1) {
      this.#lock.release();
      return BROKE;
    }
    if (this.#action !== undefined && i32[base + HANDOFF] === 1) {
      this.#trip(round); // releases the lock; throws what the action throws
      return TRIPPED;
    }
    this.#lock.release();
    return WAIT_ON; // a spurious wake-up, or another holder took the hand-off first: wait on
  }

  /** Lock held; releases it. A waiter whose timeout passed (or whose signal aborted): breaks its round. */
  #giveUp(round: number): number {
    const i32 = this.#i32;
    const base = this.#place.base;
    if (Atomics.load(i32, base + GEN) !== round) return this.#settle(round);
    if (i32[base + BROKEN] !== 1) this.#break();
    this.#lock.release();
    this.#wake();
    return BROKE;
  }

  /** Lock held (or being recovered). */
  #break(): void {
    const i32 = this.#i32;
    const base = this.#place.base;
    Atomics.store(i32, base + BROKEN, 1);
    i32[base + HANDOFF] = 0;
    Atomics.add(i32, base + EPOCH, 1);
  }

  #wake(): void {
    this.#sleepers.wake(Number.POSITIVE_INFINITY);
  }

  #resetBit(round: number): boolean {
    const bit = round & 63;
    return ((this.#i32[this.#place.base + RESET_BITS + (bit >> 5)]! >>> (bit & 31)) & 1) === 1;
  }

  #setResetBit(round: number, value: boolean): void {
    const bit = round & 63;
    const w = this.#place.base + RESET_BITS + (bit >> 5);
    const mask = 1 << (bit & 31);
    this.#i32[w] = value ? this.#i32[w]! | mask : this.#i32[w]! & ~mask;
  }

  /** @internal */
  static {
    shareable(
      Barrier,
      'Barrier',
      (state: PlaceState) => new Barrier(kAttach, attachPlace(state, KIND_BARRIER, 'Barrier')),
      (barrier) => stateOf(barrier.#place),
    );
  }

  get [Symbol.toStringTag](): string {
    return 'Barrier';
  }
}

function checkParties(parties: unknown): void {
  if (typeof parties !== 'number')
    throw new TypeError(`Expected \`parties\` to be an integer, got ${describe(parties)}`);
  if (!Number.isInteger(parties) || parties < 1 || parties > 0x7fffffff) {
    throw new RangeError(`Expected \`parties\` to be an integer >= 1, got ${describe(parties)}`);
  }
}
