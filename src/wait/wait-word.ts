/**
 * `WaitWord`: waiting and waking on one word of a segment, the one way procq does either (crossbeam's `SyncWaker`
 * serves every channel flavor the same way). The ring's getters, putters and joiners, its locks, every primitive of
 * `sync/` and the pipe each hold one.
 *
 * Waiting (the lost-wake-up guard, written once here):
 *   1. spin while it pays (spin.ts: a budget learnt from this word's recent waits);
 *   2. advertise (`waiters`: a count, or a count with owner slots, advert.ts): a waker wakes only when someone is
 *      advertised;
 *   3. read the word (`seen`), then re-check the condition ("has it become ready just now?");
 *   4. sleep only while the word still holds `seen` (compare-and-sleep: futex / Atomics.wait), at most one slice;
 *   5. after a slice that ended without a wake-up, run `onSlice` (dead-owner checks; true: ready now), and loop.
 * The async form does steps 2-3 itself and hands step 4 to the word's group (group.ts): one sleeper per thread and
 * word, whatever the number of pending async waits.
 *
 * Waking: change the state first, then `wake(n)`: only when someone is advertised, bump the word when it is an epoch
 * (the state lives elsewhere: the ring's counters), then wake `n` sleepers: one per item made available, one per
 * lock release, all for a broadcast (shutdown, Event.set). Sequentially consistent atomics on both sides mean either
 * the waiter's re-check sees the change or the waker sees the advertisement.
 *
 * Parked sleepers (epoch words that have a `parked` word): an advertised waiter is often not asleep in the kernel
 * (still re-checking, or woken and on its way back: for an async wait, a native thread's hand-off to the event loop),
 * and a futex wake that finds nobody still costs the waker a system call, and on a busy machine the core (a
 * system call is where the scheduler preempts). So a sleeper raises `parked` from before its compare-and-sleep
 * until the sleep returns (the segment does it; for an async wait the native waiter thread lowers it the moment
 * its futex returns), and a waker that reads `parked` = 0 *after* bumping the epoch skips the futex wake: any
 * sleeper that raises `parked` later compares against the bumped epoch and does not sleep. The epoch is bumped
 * whenever someone is advertised, so a waiter between its advertisement and its sleep is never missed.
 *
 * Counted sleeps (epoch words that also have SEQ and WOKE words, park.ts): a woken sleeper lowers `parked` only
 * once it runs again, and on a busy machine that is long after its wake-up; sleepers also count their sleeps, and
 * a waker that wakes every parked sleeper at once records it, so the wakers after it skip the futex wake until a
 * sleeper sleeps again.
 *
 * Every sleep is sliced (WAIT_SLICE_MS unless the site asks for less): a waker killed between its change and its
 * wake-up, or a woken waiter killed before it acted on the wake-up (which a counted wake-up would have given to it
 * alone), leaves the other waiters late by at most one slice, never stranded.
 */
import { abortErrorFrom } from '../errors.js';
import type { Segment } from '../memory/segment.js';
import { type Advert, advertise, anyoneWaiting, type Waiters, withdraw } from './advert.js';
import { sleepAsync } from './group.js';
import { bumpAndWake, type ParkWords, parkSync } from './park.js';
import { type Ready, Spinner } from './spin.js';

/**
 * Longest single sleep of any waiter before it looks again: 100 ms. `PROCQ_WAIT_SLICE_MS` (tests) sets another, read
 * once when procq loads: a long slice turns a lost wake-up ("late by one slice") into a hang a test cannot miss.
 */
export const WAIT_SLICE_MS =
  Number(process.env.PROCQ_WAIT_SLICE_MS) > 0 ? Number(process.env.PROCQ_WAIT_SLICE_MS) : 100;

export function deadlineOf(timeoutMs: number | undefined): number {
  return timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY
    ? Number.POSITIVE_INFINITY
    : performance.now() + timeoutMs;
}

export interface WaitWordOptions {
  /** The word is an epoch: a wake-up bumps it first (the state waited for lives in other words). @default false */
  readonly epoch?: boolean;
  /** Longest single sleep, in ms. @default WAIT_SLICE_MS */
  readonly sliceMs?: number;
  /** Index of a word counting the sleepers in the kernel (epoch words only: see "Parked sleepers"). @default -1 */
  readonly parked?: number;
  /**
   * Indices of SEQ and WOKE (park.ts), with `parked`: sleepers count their sleeps, and a waker skips the futex wake
   * when every sleeper counted has been woken already. @default -1
   */
  readonly parkSeq?: number;
  readonly wokeSeq?: number;
}

export class WaitWord {
  readonly seg: Segment;
  readonly word: number;
  readonly waiters: Waiters;
  readonly spinner = new Spinner();
  readonly #i32: Int32Array;
  readonly #epoch: boolean;
  readonly #sliceMs: number;
  readonly #parked: number;
  /** The parked count with its SEQ and WOKE words (park.ts), or undefined. */
  readonly #park: ParkWords | undefined;
  readonly #prune = { lastPrune: Number.NEGATIVE_INFINITY };

  constructor(seg: Segment, word: number, waiters: Waiters, options: WaitWordOptions = {}) {
    this.seg = seg;
    this.word = word;
    this.waiters = waiters;
    this.#i32 = seg.i32;
    this.#epoch = options.epoch ?? false;
    this.#sliceMs = options.sliceMs ?? WAIT_SLICE_MS;
    this.#parked = this.#epoch ? (options.parked ?? -1) : -1;
    const seq = options.parkSeq ?? -1;
    const woke = options.wokeSeq ?? -1;
    this.#park = this.#parked >= 0 && seq >= 0 && woke >= 0 ? { parked: this.#parked, seq, woke } : undefined;
  }

  /**
   * Blocks the thread until `ready()` (true) or `deadline`, a `performance.now()` time (false). `ready` may take
   * what it waits for (a lock): once it returned true, the caller owns the result.
   */
  waitSync(ready: Ready, deadline: number, onSlice?: () => boolean): boolean {
    const t0 = performance.now();
    if (this.spinner.spin(ready)) return this.#done(t0, false, true);
    const i32 = this.#i32;
    let slept = false;
    for (;;) {
      const slot = advertise(i32, this.waiters);
      const seen = Atomics.load(i32, this.word);
      if (ready()) {
        withdraw(i32, this.waiters, slot);
        return this.#done(t0, slept, true);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        withdraw(i32, this.waiters, slot);
        return this.#done(t0, true, false);
      }
      const ms = Math.min(left, this.#sliceMs);
      const park = this.#park;
      const r = park
        ? parkSync(this.seg, this.word, seen, ms, park)
        : this.seg.wait(this.word, seen, ms, this.#parked);
      slept = true;
      withdraw(i32, this.waiters, slot);
      if (r === 'timed-out' && onSlice !== undefined && onSlice()) return this.#done(t0, true, true);
    }
  }

  /**
   * The Promise form of `waitSync`; never blocks the event loop beyond its spin. Rejects with AbortError when
   * `signal` aborts (`ready` has then not returned true).
   */
  wait(ready: Ready, deadline: number, signal?: AbortSignal, onSlice?: () => boolean): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal));
    const t0 = performance.now();
    if (this.spinner.spin(ready)) return Promise.resolve(this.#done(t0, false, true));
    const i32 = this.#i32;
    const waiters = this.waiters;
    const slot = advertise(i32, waiters);
    const seen = Atomics.load(i32, this.word);
    if (ready()) {
      withdraw(i32, waiters, slot);
      return Promise.resolve(this.#done(t0, false, true));
    }
    if (deadline <= performance.now()) {
      withdraw(i32, waiters, slot);
      return Promise.resolve(this.#done(t0, true, false));
    }
    return sleepAsync(
      this.seg,
      this.word,
      this.#park ?? this.#parked,
      seen,
      this.#sliceMs,
      ready,
      deadline,
      signal,
      onSlice,
      () => {
        withdraw(i32, waiters, slot);
        this.#done(t0, true, false);
      },
    );
  }

  /** Feeds the wait's duration to the spin budget; returns `result`. */
  #done(t0: number, slept: boolean, result: boolean): boolean {
    this.spinner.record((performance.now() - t0) * 1000, slept);
    return result;
  }

  /** Whether anyone is advertised (withdrawing, now and then, the advertisements of dead waiters: advert.ts). */
  anyoneWaiting(): boolean {
    const w = this.waiters;
    return typeof w === 'number' ? Atomics.load(this.#i32, w) > 0 : anyoneWaiting(this.#i32, w, this.#prune);
  }

  /** Wakes up to `count` sleepers (`Infinity`: all), only when someone is advertised. Call after the change. */
  wake(count = 1): void {
    if (this.anyoneWaiting()) this.#wake(count);
  }

  /** Wakes every sleeper whether or not anyone is advertised (shutdown, recovery: rare, and must reach all). */
  broadcast(): void {
    this.#wake(Number.POSITIVE_INFINITY);
  }

  #wake(count: number): void {
    // Counted sleeps (an epoch word): park.ts bumps, and skips the futex wake when every sleeper was woken already.
    // A broadcast (shutdown, recovery: rare, and must reach all) does not skip on that record.
    if (this.#park !== undefined && count !== Number.POSITIVE_INFINITY) {
      bumpAndWake(this.seg, this.word, count, this.#park);
      return;
    }
    if (this.#epoch) Atomics.add(this.#i32, this.word, 1);
    // After the bump: nobody parked now means nobody can sleep on the old epoch (see "Parked sleepers").
    if (this.#parked >= 0 && Atomics.load(this.#i32, this.#parked) <= 0) return;
    this.seg.notify(this.word, count);
  }
}

export type { Advert, Ready, Waiters };
