/**
 * `RLock`: Python's `multiprocessing.RLock`, a re-entrant lock owned by one thread of one process.
 *
 * ```ts
 * const rlock = new RLock();
 * rlock.acquireSync(); rlock.acquireSync();   // the holder may take it again
 * rlock.release(); rlock.release();           // and frees it after as many releases
 * ```
 *
 * The owner is the *thread* (as in Python): only it may release (others get an error), and two async tasks of the
 * same thread both count as the owner, so use a `Lock` to keep async tasks of one thread apart. When the owner
 * dies holding it (a killed process, an ended worker), a waiter takes it over instead of waiting forever, with a
 * `PROCQ_LOCK_RECOVERED` warning.
 *
 * Layout (5 words from `base`; a `Value` or `Condition` keeps its default RLock inside its own segment):
 * ```
 *  word      written by                      invariant
 *  +0 KIND   creator                         KIND_RLOCK, never changes
 *  +1 OWNER  acquirer / releaser / recoverer 0 free, else the owner's tid + start TAG (wait/owner-word.ts)
 *  +2 WAIT   sleepers on OWNER               atomic add/sub
 *  +3 COUNT  the owner only                  recursion depth: >= 1 while OWNER != 0 (set to 1 by whoever takes
 *                                            OWNER, so a depth left by a dead owner never leaks to the next)
 *  +4 START  acquirer / releaser / recoverer the owner's start time while OWNER is set (wait/owner-word.ts)
 * ```
 */
import { shareable } from '../codec/handles.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { LockStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { lockStats } from '../inspect/stats.js';
import { deadlineOf, type OwnerWord } from '../wait/index.js';
import {
  type AcquireOptions,
  allocate,
  attachPlace,
  checkAcquireOptions,
  KIND_RLOCK,
  notOwnerError,
  type Place,
  type PlaceState,
  publishKind,
  rejecting,
  type SyncAcquireOptions,
  stateOf,
} from './core.js';
import type { ConditionLock } from './lock.js';
import { syncOwnerWord } from './owner-word.js';

const OWNER = 1;
const WAIT = 2;
const COUNT = 3;
const START = 4;
/** Words an RLock takes from its base. */
export const RLOCK_WORDS = 5;

const kAttach = Symbol('procq.attach');
const always = () => true;

export class RLock implements ConditionLock, Disposable, AsyncDisposable {
  readonly #place: Place;
  readonly #i32: Int32Array;
  readonly #count: number;
  readonly #word: OwnerWord;

  /** @param options `label`: a name for people, shown by `procq ls`, in `stats()` and in errors. */
  constructor(options?: { label?: string });
  /** @internal */
  constructor(attach: typeof kAttach, place: Place);
  constructor(attach?: typeof kAttach | { label?: string }, place?: Place) {
    if (attach === kAttach) {
      this.#place = place!;
    } else {
      this.#place = { seg: allocate(RLOCK_WORDS), base: 0, label: labelOf(attach) };
      publishKind(this.#place, KIND_RLOCK);
      registerCreated('RLock', this.#place);
    }
    const { seg, base } = this.#place;
    this.#i32 = seg.i32;
    this.#count = base + COUNT;
    this.#word = syncOwnerWord(
      seg,
      { owner: base + OWNER, start: base + START, waiters: base + WAIT },
      'RLock',
      always,
    );
  }

  /** @internal An RLock in words `[base, base + RLOCK_WORDS)` of a zero-filled segment that another object owns. */
  static _createAt(place: Place): RLock {
    publishKind(place, KIND_RLOCK);
    return new RLock(kAttach, place);
  }

  /**
   * Takes the lock (again, when this thread owns it: the depth grows), waiting while another thread owns it
   * (unless `block: false`). Resolves `true` when taken, `false` when `timeout` passed first.
   *
   * Abort safety: when the signal aborts, the lock has not been taken.
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return rejecting(async () => {
      const { timeoutMs, signal } = checkAcquireOptions(options, true);
      if (this.#reenter()) return true;
      if (!(await this.#word.acquire(deadlineOf(timeoutMs), signal))) return false;
      this.#i32[this.#count] = 1;
      return true;
    });
  }

  /** Like `acquire`, blocking the calling thread. */
  acquireSync(options?: SyncAcquireOptions): boolean {
    const { timeoutMs } = checkAcquireOptions(options, false);
    if (this.#reenter()) return true;
    if (!this.#word.acquireSync(deadlineOf(timeoutMs))) return false;
    this.#i32[this.#count] = 1;
    return true;
  }

  /** Undoes one `acquire`; frees the lock after the last. Throws when this thread does not own it. */
  release(): void {
    if (!this.#word.isMine()) {
      const which = this.#place.label === undefined ? 'an RLock' : `RLock '${this.#place.label}'`;
      throw notOwnerError(`release() of ${which} that this thread does not own`);
    }
    const depth = this.#i32[this.#count] - 1;
    this.#i32[this.#count] = depth;
    if (depth <= 0) this.#word.release();
  }

  /** A snapshot for metrics and `procq ls`: the owner (pid, thread, alive), its depth, how many wait. */
  stats(): LockStats {
    return lockStats(this.#place, 'RLock');
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** `using`: one `release()` at the end of the scope (acquire first). */
  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  #reenter(): boolean {
    if (!this.#word.isMine()) return false;
    this.#i32[this.#count]++;
    return true;
  }

  /** @internal */
  _isOwned(): boolean {
    return this.#word.isMine();
  }

  /** @internal */
  _releaseSave(): number {
    if (!this.#word.isMine()) throw notOwnerError('this thread does not own the RLock');
    const depth = this.#i32[this.#count];
    this.#i32[this.#count] = 0;
    this.#word.release();
    return depth;
  }

  /** @internal */
  _acquireRestore(saved: number): void {
    this.#word.acquireSync(Number.POSITIVE_INFINITY);
    this.#i32[this.#count] = saved;
  }

  /** @internal */
  async _acquireRestoreAsync(saved: number): Promise<void> {
    await this.#word.acquire(Number.POSITIVE_INFINITY, undefined);
    this.#i32[this.#count] = saved;
  }

  /** @internal */
  static {
    shareable(
      RLock,
      'RLock',
      (state: PlaceState) => new RLock(kAttach, attachPlace(state, KIND_RLOCK, 'RLock')),
      (lock) => stateOf(lock.#place),
    );
  }

  get [Symbol.toStringTag](): string {
    return 'RLock';
  }
}
