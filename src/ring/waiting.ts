/**
 * The one way procq waits on shared memory: check, spin briefly, advertise, re-check, sleep.
 *
 * Every `Atomics`/futex sleep in the ring goes through here, so the lost-wake-up guard is written once:
 *   1. advertise (`waiters`: a count, or a count with owner slots, see advert.ts) — the notifier wakes only
 *      when someone is advertised;
 *   2. read the word to sleep on (`word`), then re-check the condition ("has it become ready just now?");
 *   3. sleep only while `word` still holds the value read in step 2 (compare-and-sleep);
 *   4. withdraw the advertisement, and loop.
 * Sleeps are sliced (`sliceMs`) so that a caller can look for a dead lock owner between slices.
 */
import { abortErrorFrom } from '../errors.js';
import type { Segment } from '../memory/segment.js';
import { advertise, type Waiters, withdraw } from './advert.js';

/**
 * Spin before sleeping: a wake-up through the kernel costs 5-80 µs (far more for an async wait, which hands over to
 * a native thread and back to the event loop), so a peer that answers within a few microseconds is better caught
 * spinning. Bounded in time, so a spinning waiter cannot starve its peer of a core for long.
 */
const SPIN_MS = 0.02;

function spin(ready: Ready): boolean {
  for (let i = 0; i < 64; i++) if (ready()) return true;
  const until = performance.now() + SPIN_MS;
  do {
    for (let i = 0; i < 32; i++) if (ready()) return true;
  } while (performance.now() < until);
  return false;
}

export function deadlineOf(timeoutMs: number | undefined): number {
  return timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY
    ? Number.POSITIVE_INFINITY
    : performance.now() + timeoutMs;
}

/** `ready` returns true when the caller can go on; it may have side effects (e.g. take a lock). */
export type Ready = () => boolean;

/**
 * Blocks the thread until `ready()` or the deadline. Returns false on timeout. `onSlice` runs after each sleep
 * slice that timed out (dead-owner checks).
 */
export function waitSync(
  seg: Segment,
  word: number,
  waiters: Waiters,
  ready: Ready,
  deadline: number,
  sliceMs = Number.POSITIVE_INFINITY,
  onSlice?: () => void,
): boolean {
  const i32 = seg.i32;
  if (spin(ready)) return true;
  for (;;) {
    const slot = advertise(i32, waiters);
    const seen = Atomics.load(i32, word);
    if (ready()) {
      withdraw(i32, waiters, slot);
      return true;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      withdraw(i32, waiters, slot);
      return false;
    }
    const r = seg.wait(word, seen, Math.min(left, sliceMs));
    withdraw(i32, waiters, slot);
    if (r === 'timed-out' && onSlice) onSlice();
  }
}

/** The Promise form of {@link waitSync}; never blocks the event loop. Rejects with AbortError on abort. */
export async function waitAsync(
  seg: Segment,
  word: number,
  waiters: Waiters,
  ready: Ready,
  deadline: number,
  signal: AbortSignal | undefined,
  sliceMs = Number.POSITIVE_INFINITY,
  onSlice?: () => void,
): Promise<boolean> {
  const i32 = seg.i32;
  if (spin(ready)) return true;
  for (;;) {
    if (signal?.aborted) throw abortErrorFrom(signal);
    const slot = advertise(i32, waiters);
    const seen = Atomics.load(i32, word);
    let advertised = true;
    try {
      if (ready()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const pending = seg.waitAsync(word, seen, Math.min(left, sliceMs));
      const onAbort = () => pending.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      let r: string;
      try {
        r = await pending.promise;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      withdraw(i32, waiters, slot);
      advertised = false;
      if (r === 'timed-out' && onSlice) onSlice();
    } finally {
      if (advertised) withdraw(i32, waiters, slot);
    }
  }
}
