/**
 * `Event`: Python's `multiprocessing.Event`, a flag that threads and processes wait for.
 *
 * ```ts
 * const ready = new Event();
 * // in a child: ready.set();
 * if (await ready.wait(5000)) { … }           // milliseconds; false when the timeout passed with the flag clear
 * ```
 *
 * A waiter that was waiting when `set()` was called returns `true` even if `clear()` follows at once (as with
 * `threading.Event`; every `set()` starts a new generation that waiters look for, not just the flag).
 *
 * Layout (one segment, 4 words):
 * ```
 *  word     written by        invariant
 *  +0 KIND  creator           KIND_EVENT, never changes
 *  +1 FLAG  set() / clear()   1 set, 0 clear
 *  +2 GEN   set()             +1 after FLAG is stored (wraps); waiters sleep on it
 *  +3 WAIT  sleepers on GEN   atomic add/sub; set() wakes all only when > 0
 * ```
 * Order: set() stores FLAG, then adds to GEN, then reads WAIT; a waiter reads GEN before it looks at FLAG, then
 * advertises, re-checks, and sleeps while GEN is unchanged (wait/wait-word.ts): it cannot miss a set(). Sleeps are
 * sliced (100 ms), as every sleep of procq's.
 */
import { shareable } from '../codec/handles.js';
import { abortErrorFrom } from '../errors.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { EventStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { eventStats } from '../inspect/stats.js';
import { deadlineOf, WaitWord } from '../wait/index.js';
import {
  allocate,
  attachPlace,
  checkWaitArg,
  KIND_EVENT,
  type Place,
  type PlaceState,
  publishKind,
  rejecting,
  type SyncWaitOptions,
  stateOf,
  type WaitOptions,
} from './core.js';

const FLAG = 1;
const GEN = 2;
const WAIT = 3;
const WORDS = 4;

const kAttach = Symbol('procq.attach');

export class Event {
  readonly #place: Place;
  readonly #i32: Int32Array;
  readonly #flag: number;
  readonly #gen: number;
  readonly #sleepers: WaitWord;

  /** @param options `label`: a name for people, shown by `procq ls` and in `stats()`. */
  constructor(options?: { label?: string });
  /** @internal */
  constructor(attach: typeof kAttach, place: Place);
  constructor(attach?: typeof kAttach | { label?: string }, place?: Place) {
    if (attach === kAttach) {
      this.#place = place!;
    } else {
      this.#place = { seg: allocate(WORDS), base: 0, label: labelOf(attach) };
      publishKind(this.#place, KIND_EVENT);
      registerCreated('Event', this.#place);
    }
    this.#i32 = this.#place.seg.i32;
    this.#flag = this.#place.base + FLAG;
    this.#gen = this.#place.base + GEN;
    this.#sleepers = new WaitWord(this.#place.seg, this.#gen, this.#place.base + WAIT);
  }

  /** Whether the flag is set (Python's `is_set()`). */
  isSet(): boolean {
    return Atomics.load(this.#i32, this.#flag) === 1;
  }

  /** Sets the flag and wakes every waiter, in every thread and process. */
  set(): void {
    const i32 = this.#i32;
    Atomics.store(i32, this.#flag, 1);
    Atomics.add(i32, this.#gen, 1);
    this.#sleepers.wake(Number.POSITIVE_INFINITY);
  }

  /** Clears the flag: later waits wait for the next `set()`. */
  clear(): void {
    Atomics.store(this.#i32, this.#flag, 0);
  }

  /**
   * Waits until the flag is set. `timeout` in milliseconds, or `{ timeout, signal }`. Resolves `true` when set
   * (or set during the wait), `false` when the timeout passed first.
   *
   * Abort safety: an aborted wait changes nothing.
   */
  wait(timeout?: number | null | WaitOptions): Promise<boolean> {
    return rejecting(() => {
      const { timeoutMs, signal } = checkWaitArg(timeout, true);
      if (signal?.aborted) throw abortErrorFrom(signal);
      return this.#sleepers.wait(this.#readySince(), deadlineOf(timeoutMs), signal);
    });
  }

  /** Like `wait`, blocking the calling thread. */
  waitSync(timeout?: number | null | SyncWaitOptions): boolean {
    const { timeoutMs } = checkWaitArg(timeout, false);
    return this.#sleepers.waitSync(this.#readySince(), deadlineOf(timeoutMs));
  }

  /** Ready once the flag is set or a set() happened since now. */
  #readySince(): () => boolean {
    const i32 = this.#i32;
    const gen = this.#gen;
    const flag = this.#flag;
    const seen = Atomics.load(i32, gen);
    return () => Atomics.load(i32, flag) === 1 || Atomics.load(i32, gen) !== seen;
  }

  /** A snapshot for metrics and `procq ls`: the flag, how many wait. */
  stats(): EventStats {
    return eventStats(this.#place);
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** @internal */
  static {
    shareable(
      Event,
      'Event',
      (state: PlaceState) => new Event(kAttach, attachPlace(state, KIND_EVENT, 'Event')),
      (event) => stateOf(event.#place),
    );
  }

  get [Symbol.toStringTag](): string {
    return 'Event';
  }
}
