/**
 * What `wait()` needs from an object that lives in shared memory (a `Pipe`'s `Connection`, a `Queue`): the word its
 * own readers sleep on, the waiter count that makes its writers wake them, and the check that says it is ready.
 * Sleeping on the same word with the same advertisement is what makes `wait()` see exactly what `recv()` / `get()`
 * would see, with no polling.
 */
import type { Segment } from '../memory/segment.js';
import type { Waiters } from '../ring/advert.js';

export interface WaitPoint {
  readonly seg: Segment;
  /** The epoch word a reader sleeps on (bumped by a writer that sees a waiter advertised). */
  readonly word: number;
  /** The advertisement writers check before waking (advert.ts). */
  readonly waiters: Waiters;
  /** Whether a read would return at once (an item, EOF or shutdown). No side effect. */
  readonly ready: () => boolean;
  /** Sleep at most this long before running `onSlice` (dead-peer checks). */
  readonly sliceMs?: number;
  readonly onSlice?: () => void;
}

export const kWaitPoint: unique symbol = Symbol.for('procq.waitPoint');
