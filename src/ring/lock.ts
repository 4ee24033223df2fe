/**
 * A lock in shared memory that records its owner and survives its owner's death.
 *
 * The lock word holds 0 (free) or the owner's id (`ownerId()`: the kernel thread id with the native addon, so it
 * names one thread in one process). A waiter sleeps in slices; after each slice it asks whether the owner is still
 * alive, and if not it takes the lock over with a compare-and-swap from the dead id to its own, then calls
 * `recover` to repair what the dead owner left half done (see the journals in layout.ts).
 *
 * Pids and tids are reused by the OS; a reused id can only delay recovery (the lock looks owned by the new
 * thread), never break mutual exclusion, because ownership changes only by compare-and-swap.
 */
import { ownerAlive, ownerId } from '../memory/owner.js';
import type { Segment } from '../memory/segment.js';
import { anyoneWaiting, type Waiters } from './advert.js';
import { waitAsync, waitSync } from './waiting.js';

/** How often a waiter looks for a dead owner: recovery takes about this long. */
export const DEAD_OWNER_CHECK_MS = 10;

export interface LockWords {
  readonly lock: number;
  readonly waiters: Waiters;
}

export class SharedLock {
  readonly #seg: Segment;
  readonly #i32: Int32Array;
  readonly #lock: number;
  readonly #waiters: Waiters;
  readonly #pruneClock = { lastPrune: Number.NEGATIVE_INFINITY };
  readonly #recover: () => void;
  readonly #ready: () => boolean;
  readonly #checkOwner: () => void;

  constructor(seg: Segment, words: LockWords, recover: () => void) {
    this.#seg = seg;
    this.#i32 = seg.i32;
    this.#lock = words.lock;
    this.#waiters = words.waiters;
    this.#recover = recover;
    this.#ready = () => this.tryAcquire();
    this.#checkOwner = () => this.#takeOverIfOwnerDead();
  }

  tryAcquire(): boolean {
    return Atomics.compareExchange(this.#i32, this.#lock, 0, ownerId()) === 0;
  }

  /** Blocks until the lock is held (no timeout: locks are held for a frame copy at most). */
  acquireSync(): void {
    if (this.tryAcquire()) return;
    waitSync(
      this.#seg,
      this.#lock,
      this.#waiters,
      this.#ready,
      Number.POSITIVE_INFINITY,
      DEAD_OWNER_CHECK_MS,
      this.#checkOwner,
    );
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return;
    await waitAsync(
      this.#seg,
      this.#lock,
      this.#waiters,
      this.#ready,
      Number.POSITIVE_INFINITY,
      signal,
      DEAD_OWNER_CHECK_MS,
      this.#checkOwner,
    );
  }

  release(): void {
    Atomics.store(this.#i32, this.#lock, 0);
    const w = this.#waiters;
    const waiting =
      typeof w === 'number' ? Atomics.load(this.#i32, w) > 0 : anyoneWaiting(this.#i32, w, this.#pruneClock);
    if (waiting) this.#seg.notify(this.#lock, 1);
  }

  /** The owner's id, or 0 when free. */
  owner(): number {
    return Atomics.load(this.#i32, this.#lock);
  }

  #takeOverIfOwnerDead(): void {
    const owner = Atomics.load(this.#i32, this.#lock);
    if (owner === 0 || ownerAlive(owner) !== false) return;
    if (Atomics.compareExchange(this.#i32, this.#lock, owner, ownerId()) !== owner) return;
    try {
      this.#recover();
    } finally {
      this.release();
    }
    // Released so that the normal path (ready → tryAcquire) takes it; a waiter may win instead, which is fine.
  }
}
