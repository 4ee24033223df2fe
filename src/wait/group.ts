/**
 * One native waiter per (thread, word) for every pending async wait on that word.
 *
 * An async wait on a segment word costs a sleeper outside the event loop: a native thread blocked in the futex
 * (shm segments) or a V8 waiter with a keep-alive timer (SharedArrayBuffer segments). A thread of a program that
 * awaits 1,000 gets on one queue must not pay 1,000 of them (nor wake 1,000 of them for one item). So the async
 * waiters of one word in one thread form a group that keeps ONE segment wait pending:
 *
 * ```
 *   waiter: advertise, read the word (seen), re-check ready(), join ──┐
 *                                                                    v
 *   group:  [w1, w2, ...] (FIFO) ── one seg.waitAsync(word, expected, min(slice, earliest deadline))
 *                                                                    │ woken / value changed / slice ended
 *                                                                    v
 *   drain:  read the word (v), then in order: timed-out waiters settle false; after a slice, onSlice() (dead-owner
 *           checks); the FIRST ready waiter settles true and ends the pass. Waiters left after a settle -> drain
 *           again once the settled one has run (a macrotask later); no settle -> re-arm with expected = v.
 * ```
 * Lost-wake-up guard: a joiner read `seen` before its re-check; the group armed with a value read before its own
 * re-checks. Either value, if stale, makes the futex return at once ('not-equal'); if current, any later change
 * that is notified to this thread's sleeper drains the group, which re-checks every waiter. Settling one waiter per
 * drain is what keeps a wake-up for one item from resolving every waiter (a herd inside the thread): the next
 * waiter is looked at only once the first has taken what it was woken for.
 *
 * A wake-up that reaches the group when no waiter is left (the last one aborted meanwhile) is passed on to the
 * next sleeper of the word (notify 1): counted wake-ups are never swallowed by a group that has gone.
 */
import { onAbort } from '../abort.js';
import { abortErrorFrom } from '../errors.js';
import type { AsyncWait, Segment, WaitResult } from '../memory/segment.js';
import { type ParkWords, parkAsync } from './park.js';
import type { Ready } from './spin.js';

/** One pending async wait. */
export interface Pending {
  readonly ready: Ready;
  readonly deadline: number;
  /** Longest sleep before `onSlice` runs and the waiter looks again. */
  readonly sliceMs: number;
  /** Runs after a slice passed without a wake-up; true when the waiter is now ready (it took a lock over). */
  readonly onSlice: (() => boolean) | undefined;
  readonly settle: (ready: boolean) => void;
  readonly fail: (err: unknown) => void;
}

class Group {
  readonly #seg: Segment;
  readonly #word: number;
  /** The word counting sleepers in the kernel, or -1 (wait-word.ts, "Parked sleepers"), or counted sleeps (park.ts). */
  readonly #parked: number | ParkWords;
  readonly waiters = new Set<Pending>();
  #armed: AsyncWait | null = null;
  /** When the pending sleep ends at the latest (its timeout), as a `performance.now()` time. */
  #armedUntil = 0;
  #drainQueued = false;

  constructor(seg: Segment, word: number, parked: number | ParkWords) {
    this.#seg = seg;
    this.#word = word;
    this.#parked = parked;
  }

  /** Adds a waiter that read `seen` before finding itself not ready. */
  join(p: Pending, seen: number): void {
    this.waiters.add(p);
    if (this.#drainQueued) return;
    const armed = this.#armed;
    if (armed === null) {
      this.#arm(seen);
    } else if (Math.min(p.deadline, performance.now() + p.sliceMs) < this.#armedUntil) {
      // The pending sleep would outlast this waiter's deadline or slice: sleep again, shorter (the cancelled one
      // passes on a wake-up it may have consumed, see #woken).
      this.#armed = null;
      armed.cancel();
      this.#arm(seen);
    }
  }

  /** Removes a waiter that gave up (abort); the last one out cancels the pending sleep. */
  leave(p: Pending): void {
    if (!this.waiters.delete(p) || this.waiters.size > 0) return;
    const armed = this.#armed;
    this.#armed = null;
    armed?.cancel();
  }

  #arm(expected: number): void {
    let earliest = Number.POSITIVE_INFINITY;
    let slice = Number.POSITIVE_INFINITY;
    for (const p of this.waiters) {
      if (p.deadline < earliest) earliest = p.deadline;
      if (p.sliceMs < slice) slice = p.sliceMs;
    }
    const now = performance.now();
    const timeout = Math.max(0, Math.min(slice, earliest - now));
    const parked = this.#parked;
    const pending =
      typeof parked === 'number'
        ? this.#seg.waitAsync(this.#word, expected, timeout, parked)
        : parkAsync(this.#seg, this.#word, expected, timeout, parked);
    this.#armed = pending;
    this.#armedUntil = now + timeout;
    pending.promise.then(
      (r) => this.#woken(pending, r),
      (err) => this.#failAll(pending, err),
    );
  }

  #woken(pending: AsyncWait, r: WaitResult): void {
    if (this.#armed !== pending) {
      // Cancelled (the group emptied, or it sleeps again for a shorter time): a wake-up it may have consumed goes
      // to the next sleeper of the word.
      if (r === 'ok') this.#seg.notify(this.#word, 1);
      return;
    }
    this.#armed = null;
    if (this.waiters.size === 0) {
      if (r === 'ok') this.#seg.notify(this.#word, 1);
      return;
    }
    this.#drain(r === 'timed-out');
  }

  #failAll(pending: AsyncWait, err: unknown): void {
    if (this.#armed !== pending) return;
    this.#armed = null;
    const all = [...this.waiters];
    this.waiters.clear();
    for (const p of all) p.fail(err);
  }

  #drain(sliceEnded: boolean): void {
    this.#drainQueued = false;
    const v = Atomics.load(this.#seg.i32, this.#word);
    const now = performance.now();
    let settled = false;
    for (const p of this.waiters) {
      // ready() may take what it waits for (a lock, a unit): once it said true, that waiter must be settled, so
      // nobody else is asked in this drain.
      if (settled) break;
      let ok: boolean;
      try {
        ok = p.ready() || (sliceEnded && p.onSlice?.() === true);
      } catch (err) {
        this.waiters.delete(p);
        p.fail(err);
        continue;
      }
      if (ok) {
        settled = true;
        this.waiters.delete(p);
        p.settle(true);
      } else if (p.deadline <= now) {
        this.waiters.delete(p);
        p.settle(false);
      }
    }
    if (this.waiters.size === 0) return;
    if (settled) {
      // Let the settled waiter take what it was woken for before the next one looks.
      this.#drainQueued = true;
      setImmediate(() => {
        this.#drainQueued = false;
        if (this.#armed === null && this.waiters.size > 0) this.#drain(sliceEnded);
      });
      return;
    }
    this.#arm(v);
  }
}

/** The groups of this thread, by segment and word. */
const groups = new WeakMap<Segment, Map<number, Group>>();

function groupOf(seg: Segment, word: number, parked: number | ParkWords): Group {
  let byWord = groups.get(seg);
  if (byWord === undefined) {
    byWord = new Map();
    groups.set(seg, byWord);
  }
  let g = byWord.get(word);
  if (g === undefined) {
    g = new Group(seg, word, parked);
    byWord.set(word, g);
  }
  return g;
}

/**
 * Sleeps (asynchronously) until `ready()`, `deadline`, or `signal`; the caller has advertised itself, read
 * `seen`, and found `ready()` false since. Resolves true when ready, false at the deadline; rejects with the
 * signal's AbortError. `release` runs once the wait is over, whichever way (it withdraws the advertisement).
 */
export function sleepAsync(
  seg: Segment,
  word: number,
  parked: number | ParkWords,
  seen: number,
  sliceMs: number,
  ready: Ready,
  deadline: number,
  signal: AbortSignal | undefined,
  onSlice: (() => boolean) | undefined,
  release: () => void,
): Promise<boolean> {
  const group = groupOf(seg, word, parked);
  return new Promise<boolean>((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    const done = () => {
      unsubscribe?.();
      release();
    };
    const p: Pending = {
      ready,
      deadline,
      sliceMs,
      onSlice,
      settle(ok) {
        done();
        resolve(ok);
      },
      fail(err) {
        done();
        reject(err);
      },
    };
    if (signal !== undefined) {
      unsubscribe = onAbort(signal, () => {
        group.leave(p);
        p.fail(abortErrorFrom(signal));
      });
    }
    group.join(p, seen);
  });
}
