/**
 * The core of `Lock` and `RLock`: one word that holds 0 (free) or its holder's id, and the waiting around it.
 *
 * ```
 *  word      written by                        how
 *  OWNER     the acquirer (CAS 0 -> id);       0: free; else `ownerId()` of the holder (kernel tid with the native
 *            the releaser (exchange -> 0);     addon: names one thread of one process)
 *            a waiter that finds the holder
 *            dead (CAS id -> 0)
 *  WAITERS   sleepers on OWNER                 atomic add/sub (the advertise word of waiting.ts)
 * ```
 * Invariants: OWNER changes only by compare-and-swap or exchange, so exactly one thread holds a taken lock; a
 * release stores 0 first, then wakes one sleeper only if WAITERS > 0 (the waiter advertised itself before its
 * re-check, so either it sees 0 or the releaser sees it).
 *
 * Dead owners (SharedLock in ring/lock.ts does the same for the ring's locks): a waiter sleeps in slices of
 * {@link OWNER_CHECK_MS}; after each it asks whether the holder still lives and, if not, frees the word with a CAS
 * from the dead id to 0 and takes it like any acquirer. A recycled id can only delay that, never break exclusion.
 * The lock is then handed over with whatever the dead holder left half done: a warning (`PROCQ_LOCK_RECOVERED`)
 * says so, as a robust mutex returns EOWNERDEAD.
 *
 * Counted wake-ups (notify 1) can be lost by an async wait that is cancelled at the same instant; an aborted
 * acquirer therefore passes a wake-up on when the lock is free and someone sleeps.
 */
import { abortErrorFrom } from '../errors.js';
import { ownerAlive, ownerId } from '../memory/owner.js';
import type { Segment } from '../memory/segment.js';
import { waitAsync, waitSync } from '../ring/waiting.js';

/** How often a waiter looks for a dead holder: recovery takes about this long. */
export const OWNER_CHECK_MS = 50;

export class OwnerWord {
  readonly #seg: Segment;
  readonly #i32: Int32Array;
  readonly #owner: number;
  readonly #waiters: number;
  readonly #what: string;
  readonly #robust: () => boolean;
  readonly #ready = (): boolean => this.tryAcquire();
  readonly #checkOwner = (): void => this.#freeIfOwnerDead();

  /** `owner` and `waiters` are word indexes; `robust()` says whether a dead holder's lock may be taken over. */
  constructor(seg: Segment, owner: number, waiters: number, what: string, robust: () => boolean) {
    this.#seg = seg;
    this.#i32 = seg.i32;
    this.#owner = owner;
    this.#waiters = waiters;
    this.#what = what;
    this.#robust = robust;
  }

  tryAcquire(): boolean {
    return Atomics.compareExchange(this.#i32, this.#owner, 0, ownerId()) === 0;
  }

  /** Waits until held or `deadline` (a `performance.now()` time); false on timeout. */
  acquireSync(deadline: number): boolean {
    if (this.tryAcquire()) return true;
    if (deadline <= performance.now()) return false;
    return waitSync(
      this.#seg,
      this.#owner,
      this.#waiters,
      this.#ready,
      deadline,
      OWNER_CHECK_MS,
      this.#checkOwner,
    );
  }

  /** The Promise form of `acquireSync`; rejects with AbortError (nothing held) when `signal` aborts. */
  async acquire(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) throw abortErrorFrom(signal);
    if (this.tryAcquire()) return true;
    if (deadline <= performance.now()) return false;
    try {
      return await waitAsync(
        this.#seg,
        this.#owner,
        this.#waiters,
        this.#ready,
        deadline,
        signal,
        OWNER_CHECK_MS,
        this.#checkOwner,
      );
    } catch (err) {
      this.#passWakeOn();
      throw err;
    }
  }

  /** Frees the word; returns the id that held it (0: it was not held). */
  release(): number {
    const was = Atomics.exchange(this.#i32, this.#owner, 0);
    if (was !== 0 && Atomics.load(this.#i32, this.#waiters) > 0) this.#seg.notify(this.#owner, 1);
    return was;
  }

  /** The holder's id, or 0 when free. */
  owner(): number {
    return Atomics.load(this.#i32, this.#owner);
  }

  isMine(): boolean {
    return Atomics.load(this.#i32, this.#owner) === ownerId();
  }

  #passWakeOn(): void {
    if (Atomics.load(this.#i32, this.#owner) === 0 && Atomics.load(this.#i32, this.#waiters) > 0) {
      this.#seg.notify(this.#owner, 1);
    }
  }

  #freeIfOwnerDead(): void {
    const owner = Atomics.load(this.#i32, this.#owner);
    if (owner === 0 || !this.#robust() || ownerAlive(owner) !== false) return;
    if (Atomics.compareExchange(this.#i32, this.#owner, owner, 0) !== owner) return;
    process.emitWarning(
      `procq: the holder of a ${this.#what} (thread ${owner}) died holding it; the ${this.#what} was recovered, ` +
        'and what it protects may be half updated',
      { code: 'PROCQ_LOCK_RECOVERED' },
    );
    // No wake-up needed: this waiter retries at once (waiting.ts loops to `ready`), and whoever wins releases.
  }
}
