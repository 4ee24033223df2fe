/**
 * `OwnerWord`: a lock in shared memory that records who holds it and survives its holder's death. The one
 * implementation behind the ring's producer and consumer locks (ring/lock.ts), `Lock`, `RLock` and the Barrier's
 * lock; what differs between them is the dead-owner policy, a parameter.
 *
 * ```
 *  word     written by                                       meaning
 *  OWNER    acquirer: CAS 0 -> word                          0 free; else the holder's ownerWord(): its kernel
 *           releaser: exchange -> 0 (after START)            tid and a 10-bit TAG of its start time (identity.ts)
 *           taker-over: CAS dead word -> own word
 *  START    the holder, right after its CAS: its START;      the holder's ownerStart() (identity.ts): with OWNER,
 *           the releaser, before it frees OWNER: 0           a name no later thread can have; 0: not known
 *  WAITERS  sleepers on OWNER (advert.ts)                    atomic add/sub; a release wakes one only when > 0
 * ```
 * Invariants:
 * - OWNER changes only by compare-and-swap (or the holder's own store of 0), so exactly one thread holds a taken
 *   lock, whatever the liveness checks conclude.
 * - START is non-zero only while OWNER is its writer's word: written after OWNER is won, cleared before OWNER is
 *   freed. A checker that reads OWNER = o then START = s knows s belongs to o, or is 0 (o is acquiring or
 *   releasing right now, or died in between: then o's TAG stands in for it), or is a later holder's (then OWNER
 *   is no longer o and the take-over CAS fails).
 * - A holder is dead when its thread no longer exists, is a zombie, or has a different start time (START, else
 *   TAG): a recycled id does not make a dead holder look alive (with TAG alone, 1 time in 1024 it does: the lock
 *   then waits for the stranger to end, as every lock did before).
 *
 * Dead holders: a waiter sleeps in slices of `checkMs`; after each it checks the holder, and if the policy allows
 * (`robust()`), takes the lock over by a CAS from the dead id to its own, runs `recover(deadId)` holding it (repair
 * what the holder left half done, or warn), and returns holding the lock, as a robust mutex returns EOWNERDEAD.
 * A live but stopped holder (SIGSTOP, a debugger) is never taken over: waiters wait until their deadline.
 *
 * Counted wake-ups (one per release) can be consumed by a waiter that gives up at the same instant (timeout,
 * abort); a waiter that gives up passes a wake-up on when the lock is free and someone sleeps.
 */
import { abortErrorFrom } from '../errors.js';
import type { Segment } from '../memory/segment.js';
import type { Waiters } from './advert.js';
import { ownerLives, ownerStart, ownerWord, tidOf } from './identity.js';
import { WaitWord } from './wait-word.js';

export interface OwnerWords {
  /** Index of OWNER. */
  readonly owner: number;
  /** Index of START. */
  readonly start: number;
  /** The waiters' advertisement (a count word, or a count with owner slots). */
  readonly waiters: Waiters;
}

/** What to do with a lock whose holder died holding it. */
export interface DeadOwnerPolicy {
  /** Whether it may be taken over (`false`: it stays taken, as in Python). Asked at each check. */
  robust(): boolean;
  /** Runs in the thread that took the lock over from the dead thread `deadTid`, holding it. */
  recover(deadTid: number): void;
  /** How often a waiter looks at the holder, in ms: recovery takes about this long. */
  readonly checkMs: number;
}

export class OwnerWord {
  readonly #i32: Int32Array;
  readonly #owner: number;
  readonly #start: number;
  readonly #policy: DeadOwnerPolicy;
  readonly #sleepers: WaitWord;
  readonly #ready = (): boolean => this.tryAcquire();
  readonly #checkOwner = (): boolean => this.#takeOverIfOwnerDead();

  constructor(seg: Segment, words: OwnerWords, policy: DeadOwnerPolicy) {
    this.#i32 = seg.i32;
    this.#owner = words.owner;
    this.#start = words.start;
    this.#policy = policy;
    this.#sleepers = new WaitWord(seg, words.owner, words.waiters, { sliceMs: policy.checkMs });
  }

  tryAcquire(): boolean {
    if (Atomics.compareExchange(this.#i32, this.#owner, 0, ownerWord()) !== 0) return false;
    // A plain store: the seq-cst CAS above and the seq-cst store of OWNER in release() order it (V8 does not move
    // plain stores across atomic ones, x86 keeps stores in order), and checkers read OWNER before START.
    this.#i32[this.#start] = ownerStart();
    return true;
  }

  /** Waits until held (true) or `deadline`, a `performance.now()` time (false). */
  acquireSync(deadline = Number.POSITIVE_INFINITY): boolean {
    if (this.tryAcquire()) return true;
    if (deadline <= performance.now()) return false;
    const got = this.#sleepers.waitSync(this.#ready, deadline, this.#checkOwner);
    if (!got) this.#passWakeOn();
    return got;
  }

  /** The Promise form of `acquireSync`; rejects with AbortError (nothing held) when `signal` aborts. */
  acquire(deadline = Number.POSITIVE_INFINITY, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal));
    if (this.tryAcquire()) return Promise.resolve(true);
    if (deadline <= performance.now()) return Promise.resolve(false);
    return this.#sleepers.wait(this.#ready, deadline, signal, this.#checkOwner).then(
      (got) => {
        if (!got) this.#passWakeOn();
        return got;
      },
      (err) => {
        this.#passWakeOn();
        throw err;
      },
    );
  }

  /** Frees the word; returns the word that held it (0: it was not held). */
  release(): number {
    this.#i32[this.#start] = 0;
    const was = Atomics.exchange(this.#i32, this.#owner, 0);
    if (was !== 0) this.#sleepers.wake(1);
    return was;
  }

  /** The holder's thread id, or 0 when free. */
  owner(): number {
    return tidOf(Atomics.load(this.#i32, this.#owner));
  }

  isMine(): boolean {
    return Atomics.load(this.#i32, this.#owner) === ownerWord();
  }

  #passWakeOn(): void {
    if (Atomics.load(this.#i32, this.#owner) === 0) this.#sleepers.wake(1);
  }

  /** After a slice: takes the lock over when its holder is dead and the policy allows. True when now held. */
  #takeOverIfOwnerDead(): boolean {
    const i32 = this.#i32;
    const owner = Atomics.load(i32, this.#owner);
    if (owner === 0 || !this.#policy.robust()) return false;
    if (ownerLives(owner, Atomics.load(i32, this.#start)) !== false) return false;
    if (Atomics.compareExchange(i32, this.#owner, owner, ownerWord()) !== owner) return false;
    i32[this.#start] = ownerStart();
    try {
      this.#policy.recover(tidOf(owner));
    } catch (err) {
      this.release();
      throw err;
    }
    return true;
  }
}
