/**
 * Parking: how a sleeper tells wakers it is (about to be) asleep in the kernel, and how a waker knows, without a
 * system call, that every such sleeper has already been woken.
 *
 * ```
 *  word      written by                                        meaning
 *  PARKED    sleeper: +1 before its compare-and-sleep,         sleepers between their +1 and -1: asleep, about to
 *            -1 once it runs again                             sleep, or woken and not yet running again
 *  SEQ       sleeper: +1 after PARKED's +1, before the sleep   how many sleeps have started (wraps; only compared)
 *  WOKE      waker: SEQ as read before a futex wake that       every sleep counted up to WOKE has been woken: a
 *            woke at least PARKED (read after SEQ) sleepers,   waker that still reads SEQ = WOKE wakes nobody
 *            or fewer than it asked for, SEQ unchanged
 *            across its bump of the word
 * ```
 * Why WOKE: a woken sleeper lowers PARKED only when it runs again, and on a busy machine that is milliseconds later.
 * Meanwhile every publish read PARKED > 0 and paid a futex wake that found nobody (measured: a 2x2 job farm under
 * load made 0.67 wake calls per put while its consumers slept once per 33 items), and a system call is where the
 * waker loses its core.
 *
 * Why it is safe (a waker that skips leaves nobody asleep on an old value of the word):
 * - A sleeper does PARKED +1, then SEQ +1, then sleeps, comparing the word with the value it read before its last
 *   re-check. A waker changes the state, bumps the word, reads SEQ (s), reads PARKED (p), wakes, and stores
 *   WOKE = s only when the wake returned k >= p.
 * - Every sleeper counted in s did its PARKED +1 before the waker read p. If no sleeper that came later (PARKED +1
 *   after the read of p) was among the k woken, then k >= p means all p were in the kernel and all were woken. A
 *   later sleeper that was woken did its SEQ +1 before its sleep, so before that wake: SEQ no longer equals s for
 *   any later waker, which then wakes as usual.
 * - Or: SEQ read s before the bump and s again after it. Every sleeper counted in s then read the word before the
 *   bump: one not in the kernel at the wake finds the word changed when it gets there and does not sleep. A wake
 *   that woke fewer than it asked for woke everyone in the kernel. (This is the case of sleepers woken earlier that
 *   have not run yet: the wake finds nobody, and the wakers after it need not look again.)
 * - A waker that reads SEQ = WOKE: each sleep that started up to then was woken (a sleep again is a new SEQ +1), and
 *   a sleeper between its PARKED +1 and its SEQ +1 read the word before this waker's bump (so its sleep returns at
 *   once) or re-checked after this waker's change (so it does not sleep on it).
 * - A process killed at any point leaves PARKED raised (wake calls for nobody, as before) or SEQ moved on (one
 *   more wake): never a skip that strands a sleeper.
 */
import type { AsyncWait, Segment, WaitResult } from '../memory/segment.js';

/** The three words of a parked-sleeper count (indices into the segment's `i32`). */
export interface ParkWords {
  readonly parked: number;
  readonly seq: number;
  readonly woke: number;
}

/** A compare-and-sleep of at most `timeoutMs`, counted in `park`. */
export function parkSync(
  seg: Segment,
  word: number,
  expected: number,
  timeoutMs: number,
  park: ParkWords,
): WaitResult {
  const i32 = seg.i32;
  Atomics.add(i32, park.parked, 1);
  Atomics.add(i32, park.seq, 1);
  try {
    return seg.wait(word, expected, timeoutMs);
  } finally {
    Atomics.sub(i32, park.parked, 1);
  }
}

/** The async form of {@link parkSync}: PARKED is lowered when the wait settles (in this thread). */
export function parkAsync(
  seg: Segment,
  word: number,
  expected: number,
  timeoutMs: number,
  park: ParkWords,
): AsyncWait {
  const i32 = seg.i32;
  Atomics.add(i32, park.parked, 1);
  Atomics.add(i32, park.seq, 1);
  const w = seg.waitAsync(word, expected, timeoutMs);
  const lower = () => Atomics.sub(i32, park.parked, 1);
  return {
    promise: w.promise.then(
      (r) => {
        lower();
        return r;
      },
      (err) => {
        lower();
        throw err;
      },
    ),
    cancel: () => w.cancel(),
  };
}

/**
 * Bumps the epoch `word` and wakes up to `count` of its sleepers, unless nobody is parked or every parked sleeper
 * has been woken already. Returns how many the futex wake woke (0 when skipped).
 */
export function bumpAndWake(seg: Segment, word: number, count: number, park: ParkWords): number {
  const i32 = seg.i32;
  const before = Atomics.load(i32, park.seq);
  Atomics.add(i32, word, 1);
  const s = Atomics.load(i32, park.seq);
  const p = Atomics.load(i32, park.parked);
  if (p <= 0 || s === Atomics.load(i32, park.woke)) return 0;
  const k = seg.notify(word, count);
  if (k >= p || (k < count && s === before)) Atomics.store(i32, park.woke, s);
  return k;
}
