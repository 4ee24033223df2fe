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
 * Every sleep is sliced (WAIT_SLICE_MS unless the site asks for less): a waker killed between its change and its
 * wake-up, or a woken waiter killed before it acted on the wake-up (which a counted wake-up would have given to it
 * alone), leaves the other waiters late by at most one slice, never stranded.
 */
import { abortErrorFrom } from '../errors.js';
import type { Segment } from '../memory/segment.js';
import { type Advert, advertise, anyoneWaiting, type Waiters, withdraw } from './advert.js';
import { sleepAsync } from './group.js';
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
}

export class WaitWord {
  readonly seg: Segment;
  readonly word: number;
  readonly waiters: Waiters;
  readonly spinner = new Spinner();
  readonly #i32: Int32Array;
  readonly #epoch: boolean;
  readonly #sliceMs: number;
  readonly #prune = { lastPrune: Number.NEGATIVE_INFINITY };

  constructor(seg: Segment, word: number, waiters: Waiters, options: WaitWordOptions = {}) {
    this.seg = seg;
    this.word = word;
    this.waiters = waiters;
    this.#i32 = seg.i32;
    this.#epoch = options.epoch ?? false;
    this.#sliceMs = options.sliceMs ?? WAIT_SLICE_MS;
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
      const r = this.seg.wait(this.word, seen, Math.min(left, this.#sliceMs));
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
    return sleepAsync(this.seg, this.word, seen, this.#sliceMs, ready, deadline, signal, onSlice, () => {
      withdraw(i32, waiters, slot);
      this.#done(t0, true, false);
    });
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
    if (this.#epoch) Atomics.add(this.#i32, this.word, 1);
    this.seg.notify(this.word, count);
  }
}

export type { Advert, Ready, Waiters };
