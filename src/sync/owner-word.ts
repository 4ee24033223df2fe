/**
 * The owner word of `Lock` and `RLock`: the waiting layer's `OwnerWord` (src/wait/owner-word.ts, where its words
 * OWNER, START and WAITERS and their invariants are drawn) with the dead-owner policy of `sync/`: a waiter that
 * finds the holder dead (a thread id that no longer runs, or now names a later thread) takes the lock over, and a
 * warning (`PROCQ_LOCK_RECOVERED`) says that what the lock protects may be half updated, as a robust mutex
 * returns EOWNERDEAD. `robust: false` (Lock) keeps Python's behaviour: the lock stays taken.
 */
import type { Segment } from '../memory/segment.js';
import { OwnerWord } from '../wait/index.js';

/** How often a waiter looks for a dead holder: recovery takes about this long. */
export const OWNER_CHECK_MS = 50;

export interface SyncOwnerWords {
  readonly owner: number;
  readonly start: number;
  readonly waiters: number;
}

export function syncOwnerWord(
  seg: Segment,
  words: SyncOwnerWords,
  what: string,
  robust: () => boolean,
): OwnerWord {
  return new OwnerWord(seg, words, {
    robust,
    checkMs: OWNER_CHECK_MS,
    recover(deadTid) {
      process.emitWarning(
        `procq: the holder of a ${what} (thread ${deadTid}) died holding it; the ${what} was recovered, ` +
          'and what it protects may be half updated',
        { code: 'PROCQ_LOCK_RECOVERED' },
      );
    },
  });
}

export type { OwnerWord };
