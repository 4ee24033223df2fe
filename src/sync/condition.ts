/**
 * `Condition`: Python's `multiprocessing.Condition`, waiting for a state that other threads or processes change
 * under a lock.
 *
 * ```ts
 * const cond = new Condition();                 // its own RLock; or new Condition(lock) to share one
 * await cond.acquire();
 * try {
 *   await cond.waitFor(() => items.length > 0, 1000);   // releases the lock while it waits
 *   …
 * } finally { cond.release(); }
 * // elsewhere, holding the lock: cond.notify();  /  cond.notifyAll();
 * ```
 *
 * `wait`, `waitFor`, `notify` and `notifyAll` require the lock held by the calling thread (else an error, as
 * Python's `RuntimeError`). `notify(n)` wakes at most `n` waiters, the longest-waiting first; a waiter that timed
 * out or was aborted is skipped (it does not use up a notification).
 *
 * Layout (4 + K words from `base`; the default RLock in words `K + 4 ..` of the same segment):
 * ```
 *  word        written by                    invariant
 *  +0 KIND     creator                       KIND_CONDITION, never changes
 *  +1 NEXT     wait (lock held)              the next ticket; tickets are handed out in order
 *  +2 LIMIT    notify / a departing waiter   tickets below LIMIT are notified (or departed); LIMIT <= NEXT,
 *              (lock held)                   NEXT - LIMIT <= K (all i32, compared with wrap-around)
 *  +3 SLEEP    sleepers on their slot        atomic add/sub (informative: notify wakes each notified slot)
 *  +4 + (t mod K)   SLOT of ticket t:
 *              wait: 0 -> id                 0 free; id > 0: its waiter (ownerId) waits;
 *              notify: id -> -id             -id: notified, not yet collected by its waiter;
 *              the waiter: -id -> 0          DEPARTED: timed out / aborted, to be skipped by notify
 *              a departing waiter: id -> DEPARTED (lock held)
 * ```
 * Invariant: a slot of a ticket in [LIMIT, NEXT) holds a waiter's id or DEPARTED; a slot of an older ticket holds
 * -id (a notified waiter that has not woken yet) or 0. A waiter sleeps on its own slot word, so a notify wakes
 * exactly the waiters it picks. A notified waiter frees its slot as soon as it sees the notification, before it
 * takes the lock back.
 */
import { type HandleDescriptor, handleOf, reviveHandle, shareable } from '../codec/handles.js';
import { abortErrorFrom } from '../errors.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { ConditionStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { conditionStats } from '../inspect/stats.js';
import { ownerAlive, ownerId } from '../memory/owner.js';
import { deadlineOf, WaitWord } from '../wait/index.js';
import {
  type AcquireOptions,
  allocate,
  attachPlace,
  checkWaitArg,
  describe,
  KIND_CONDITION,
  notOwnerError,
  type Place,
  type PlaceState,
  publishKind,
  rejecting,
  type SyncAcquireOptions,
  type SyncWaitOptions,
  stateOf,
  type WaitOptions,
} from './core.js';
import { type ConditionLock, Lock } from './lock.js';
import { RLOCK_WORDS, RLock } from './rlock.js';

const NEXT = 1;
const LIMIT = 2;
const SLEEP = 3;
const SLOTS = 4;
/** Most threads that can wait on one Condition at once. */
export const MAX_WAITERS = 256;
const K = MAX_WAITERS;
const DEPARTED = -0x7fffffff;
const OWN_LOCK_AT = SLOTS + K;

interface ConditionState extends PlaceState {
  readonly lock: HandleDescriptor;
}

const kAttach = Symbol('procq.attach');

export class Condition implements Disposable, AsyncDisposable {
  readonly #place: Place;
  readonly #i32: Int32Array;
  readonly #lock: ConditionLock;
  /** The WaitWord of each slot, made when first used. */
  readonly #slotWords: WaitWord[] = [];

  /**
   * @param lock A `Lock` or `RLock` to wait under; a new `RLock` when omitted or `null` (Python's default).
   * @param options `label`: a name for people, shown by `procq ls` and in `stats()`.
   */
  constructor(lock?: Lock | RLock | null, options?: { label?: string });
  /** @internal */
  constructor(attach: typeof kAttach, place: Place, lock: ConditionLock);
  constructor(
    lock?: Lock | RLock | null | typeof kAttach,
    place?: Place | { label?: string },
    attachedLock?: ConditionLock,
  ) {
    if (lock === kAttach) {
      this.#place = place as Place;
      this.#lock = attachedLock!;
    } else {
      if (lock !== undefined && lock !== null && !(lock instanceof Lock) && !(lock instanceof RLock)) {
        throw new TypeError(`Expected \`lock\` to be a Lock or an RLock, got ${describe(lock)}`);
      }
      const label = labelOf(place);
      const own = lock === undefined || lock === null;
      const seg = allocate(OWN_LOCK_AT + (own ? RLOCK_WORDS : 0));
      this.#place = { seg, base: 0, label };
      this.#lock = own ? RLock._createAt({ seg, base: OWN_LOCK_AT }) : lock;
      publishKind(this.#place, KIND_CONDITION);
      registerCreated('Condition', this.#place);
    }
    this.#i32 = this.#place.seg.i32;
  }

  /** The lock's `acquire`. Abort safety: when the signal aborts, the lock has not been taken. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /** The lock's `acquireSync`. */
  acquireSync(options?: SyncAcquireOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /** The lock's `release`. */
  release(): void {
    this.#lock.release();
  }

  /** `using`: releases the lock at the end of the scope (acquire first). */
  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  /**
   * Releases the lock, waits until notified or `timeout` (ms, or `{ timeout, signal }`) passes, then takes the
   * lock back (as deep as it was held). Resolves `true` when notified, `false` on timeout. Requires the lock.
   *
   * Abort safety: the lock is held again when the call rejects with `AbortError`, and the wait used up no
   * notification (one that arrived meanwhile is passed on to the next waiter).
   */
  wait(timeout?: number | null | WaitOptions): Promise<boolean> {
    return rejecting(async () => {
      const { timeoutMs, signal } = checkWaitArg(timeout, true);
      if (signal?.aborted) throw abortErrorFrom(signal);
      const { slot, me, saved } = this.#enter();
      const i32 = this.#i32;
      let notified = false;
      let aborted: unknown;
      try {
        notified = await this.#slotWord(slot).wait(this.#notifiedOf(slot, me), deadlineOf(timeoutMs), signal);
      } catch (err) {
        aborted = err;
      }
      if (notified) Atomics.compareExchange(i32, slot, -me, 0);
      await this.#lock._acquireRestoreAsync(saved);
      const result = notified || this.#leave(slot, me);
      if (aborted === undefined) return result;
      if (result) this.#notify(1); // a notification that reached us while aborting goes to the next waiter
      throw aborted;
    });
  }

  /** Like `wait`, blocking the calling thread. */
  waitSync(timeout?: number | null | SyncWaitOptions): boolean {
    const { timeoutMs } = checkWaitArg(timeout, false);
    const { slot, me, saved } = this.#enter();
    const notified = this.#slotWord(slot).waitSync(this.#notifiedOf(slot, me), deadlineOf(timeoutMs));
    if (notified) Atomics.compareExchange(this.#i32, slot, -me, 0);
    this.#lock._acquireRestore(saved);
    return notified || this.#leave(slot, me);
  }

  /**
   * Waits until `predicate()` is true (checked first, then after each notification), or `timeout` passes.
   * Resolves the last value of `predicate()`. Requires the lock; it is held whenever `predicate` runs.
   *
   * Abort safety: as `wait`; the lock is held again when it rejects.
   */
  waitFor(predicate: () => unknown, timeout?: number | null | WaitOptions): Promise<unknown> {
    return rejecting(async () => {
      checkPredicate(predicate);
      const { timeoutMs, signal } = checkWaitArg(timeout, true);
      const deadline = deadlineOf(timeoutMs);
      let result = predicate();
      while (!result) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        await this.wait({ timeout: left === Number.POSITIVE_INFINITY ? undefined : left, signal });
        result = predicate();
      }
      return result;
    });
  }

  /** Like `waitFor`, blocking the calling thread. */
  waitForSync(predicate: () => unknown, timeout?: number | null | SyncWaitOptions): unknown {
    checkPredicate(predicate);
    const { timeoutMs } = checkWaitArg(timeout, false);
    const deadline = deadlineOf(timeoutMs);
    let result = predicate();
    while (!result) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      this.waitSync(left === Number.POSITIVE_INFINITY ? undefined : left);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to `n` waiters (default 1), the longest-waiting first. Requires the lock. */
  notify(n = 1): void {
    if (typeof n !== 'number' || !(n >= 0) || !(Number.isInteger(n) || n === Number.POSITIVE_INFINITY)) {
      throw new RangeError(`Expected \`n\` to be a non-negative integer, got ${describe(n)}`);
    }
    this.#checkOwned('notify');
    this.#notify(n);
  }

  /** Wakes every waiter. Requires the lock. */
  notifyAll(): void {
    this.#checkOwned('notify');
    this.#notify(Number.POSITIVE_INFINITY);
  }

  // ---------------------------------------------------------------- internals (lock held unless said)

  #checkOwned(what: string): void {
    if (!this.#lock._isOwned())
      throw notOwnerError(`cannot ${what} on an un-acquired lock (acquire the Condition first)`);
  }

  /** Where the waiter of `slot` sleeps: on the slot word itself, advertised in SLEEP. */
  #slotWord(slot: number): WaitWord {
    const i = slot - this.#place.base - SLOTS;
    let w = this.#slotWords[i];
    if (w === undefined) {
      w = new WaitWord(this.#place.seg, slot, this.#place.base + SLEEP);
      this.#slotWords[i] = w;
    }
    return w;
  }

  #notifiedOf(slot: number, me: number): () => boolean {
    const i32 = this.#i32;
    return () => Atomics.load(i32, slot) === -me;
  }

  /** Takes a ticket and releases the lock; returns the slot word to wait on. */
  #enter(): { slot: number; me: number; saved: number } {
    this.#checkOwned('wait');
    const i32 = this.#i32;
    const base = this.#place.base;
    const t = i32[base + NEXT]!;
    if (((t - i32[base + LIMIT]!) | 0) >= K) throw this.#tooMany();
    const slot = base + SLOTS + (t & (K - 1));
    const v = Atomics.load(i32, slot);
    // A slot still marked notified belongs to a waiter K tickets ago that has not woken: reclaim it only if dead.
    if (v !== 0 && !(v < 0 && v !== DEPARTED && ownerAlive(-v) === false)) throw this.#tooMany();
    const me = ownerId();
    Atomics.store(i32, slot, me);
    Atomics.store(i32, base + NEXT, (t + 1) | 0);
    const saved = this.#lock._releaseSave();
    return { slot, me, saved };
  }

  #tooMany(): Error {
    return new RangeError(`more than ${K} threads wait on this Condition at once`);
  }

  /** After a wait that was not notified, with the lock back: true if notified meanwhile, else departs. */
  #leave(slot: number, me: number): boolean {
    const i32 = this.#i32;
    if (Atomics.compareExchange(i32, slot, -me, 0) === -me) return true;
    Atomics.store(i32, slot, DEPARTED);
    this.#trim();
    return false;
  }

  /** Frees departed slots at both ends of [LIMIT, NEXT). */
  #trim(): void {
    const i32 = this.#i32;
    const base = this.#place.base;
    const slotOf = (t: number) => base + SLOTS + (t & (K - 1));
    let limit = i32[base + LIMIT]!;
    let next = i32[base + NEXT]!;
    while (limit !== next && i32[slotOf(limit)] === DEPARTED) {
      Atomics.store(i32, slotOf(limit), 0);
      limit = (limit + 1) | 0;
    }
    while (limit !== next && i32[slotOf((next - 1) | 0)] === DEPARTED) {
      next = (next - 1) | 0;
      Atomics.store(i32, slotOf(next), 0);
    }
    Atomics.store(i32, base + LIMIT, limit);
    Atomics.store(i32, base + NEXT, next);
  }

  #notify(n: number): void {
    const i32 = this.#i32;
    const base = this.#place.base;
    let limit = i32[base + LIMIT]!;
    const next = i32[base + NEXT]!;
    while (n > 0 && limit !== next) {
      const slot = base + SLOTS + (limit & (K - 1));
      const v = i32[slot]!;
      if (v === DEPARTED) {
        Atomics.store(i32, slot, 0);
      } else {
        Atomics.store(i32, slot, -v);
        this.#slotWord(slot).wake(1); // it advertised before its re-check
        n--;
      }
      limit = (limit + 1) | 0;
    }
    Atomics.store(i32, base + LIMIT, limit);
    this.#trim();
  }

  /** A snapshot for metrics and `procq ls`: how many wait, who holds its own lock. */
  stats(): ConditionStats {
    return conditionStats(this.#place);
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** @internal */
  static {
    shareable(
      Condition,
      'Condition',
      (state: ConditionState) => {
        const place = attachPlace(state, KIND_CONDITION, 'Condition');
        return new Condition(kAttach, place, reviveHandle(state.lock) as ConditionLock);
      },
      (cond): ConditionState => ({ ...stateOf(cond.#place), lock: handleOf(cond.#lock) }),
    );
  }

  get [Symbol.toStringTag](): string {
    return 'Condition';
  }
}

function checkPredicate(predicate: unknown): void {
  if (typeof predicate !== 'function') {
    throw new TypeError(`Expected \`predicate\` to be a function, got ${describe(predicate)}`);
  }
}
