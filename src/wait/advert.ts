/**
 * Waiter advertisements that a dead waiter cannot leave behind for ever.
 *
 * A notifier wakes only when a waiter has advertised itself (a count > 0), so that wake-ups cost nothing when
 * nobody waits. A waiter killed while asleep would leave the count raised, and every later operation would pay a
 * wake-up call for nobody. So, besides the count, each waiter records its owner id (`ownerId()`: kernel thread id)
 * in one of a few slots; a notifier that finds the count raised asks, at most every PRUNE_INTERVAL_MS, whether the
 * owners in the slots still live, and withdraws the dead ones' advertisements.
 *
 * ```
 *  word            written by                     meaning
 *  count           waiters: +1 before their slot  advertised waiters (the notifier's "anyone there?")
 *  slots[0..n)     waiter: CAS 0 -> id, id -> 0   which owner each advertisement belongs to (0: free)
 *                  pruner: CAS dead id -> 0, then count -1
 * ```
 * Order keeps pruning exact: a waiter raises the count *before* claiming its slot and frees its slot *before*
 * lowering the count, so every claimed slot stands for one unit of the count, and a pruner only ever withdraws a
 * unit whose owner is dead. A waiter that dies between the two steps (a few instructions), or finds no free slot,
 * leaves a unit no pruner can see: it costs wake-up calls, never a lost wake-up.
 */
import { ownerAlive, ownerId } from '../memory/owner.js';

export interface Advert {
  /** Index of the count word. */
  readonly count: number;
  /** Index of the first slot word. */
  readonly slots: number;
  /** Number of slot words. */
  readonly size: number;
}

/** A plain count (no slots) or a count with slots. */
export type Waiters = number | Advert;

export const PRUNE_INTERVAL_MS = 50;

function countOf(w: Waiters): number {
  return typeof w === 'number' ? w : w.count;
}

/** Advertises the caller as a waiter; returns the slot it holds (-1: none). */
export function advertise(i32: Int32Array, w: Waiters): number {
  Atomics.add(i32, countOf(w), 1);
  if (typeof w === 'number') return -1;
  const me = ownerId();
  for (let i = 0; i < w.size; i++) {
    if (Atomics.compareExchange(i32, w.slots + i, 0, me) === 0) return w.slots + i;
  }
  return -1;
}

/** Withdraws an advertisement made by `advertise` (which returned `slot`). */
export function withdraw(i32: Int32Array, w: Waiters, slot: number): void {
  if (slot >= 0) Atomics.store(i32, slot, 0);
  Atomics.sub(i32, countOf(w), 1);
}

/**
 * Whether anyone is advertised. When the count is raised, at most every PRUNE_INTERVAL_MS (per `clock`), the
 * advertisements of dead owners are withdrawn first.
 */
export function anyoneWaiting(i32: Int32Array, w: Advert, clock: { lastPrune: number }): boolean {
  if (Atomics.load(i32, w.count) <= 0) return false;
  const now = performance.now();
  if (now - clock.lastPrune < PRUNE_INTERVAL_MS) return true;
  clock.lastPrune = now;
  for (let i = 0; i < w.size; i++) {
    const id = Atomics.load(i32, w.slots + i);
    if (id !== 0 && ownerAlive(id) === false && Atomics.compareExchange(i32, w.slots + i, id, 0) === id) {
      Atomics.sub(i32, w.count, 1);
    }
  }
  return Atomics.load(i32, w.count) > 0;
}
