/**
 * The ring's producer and consumer locks (and the Barrier's): an `OwnerWord` (src/wait/owner-word.ts, where the
 * words and their invariants are drawn) whose dead-owner policy is "always take over, then replay the dead owner's
 * journal" (`recover`, see layout.ts).
 *
 * Every acquire takes a deadline: a live holder that does not run (stopped by SIGSTOP or a debugger, a frozen
 * cgroup) makes a call with a timeout fail at its deadline instead of waiting for ever.
 */
import type { Segment } from '../memory/segment.js';
import { OwnerWord, type Waiters } from '../wait/index.js';

/** How often a waiter looks for a dead owner: recovery takes about this long. */
export const DEAD_OWNER_CHECK_MS = 10;

/**
 * How long past a call's deadline it may wait for a ring lock. Locks are held for a frame copy: a lock held for a
 * moment must not fail a `putNowait`/`getNowait` (timeout 0) that would otherwise succeed, while a holder that does
 * not run (stopped) fails a call with a timeout within this margin of it.
 */
export const LOCK_GRACE_MS = 50;

/** The deadline of a ring lock wait for a call whose own deadline is `deadline` (`performance.now()` times). */
export function lockDeadlineOf(deadline: number): number {
  return deadline + LOCK_GRACE_MS;
}

export interface LockWords {
  readonly lock: number;
  /** The holder's start time (identity.ts), next to its id in `lock`. */
  readonly start: number;
  readonly waiters: Waiters;
}

export class SharedLock extends OwnerWord {
  constructor(seg: Segment, words: LockWords, recover: () => void) {
    super(
      seg,
      { owner: words.lock, start: words.start, waiters: words.waiters },
      { robust: () => true, recover, checkMs: DEAD_OWNER_CHECK_MS },
    );
  }
}
