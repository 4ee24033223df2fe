/**
 * `Semaphore` and `BoundedSemaphore`: Python's, a counter that `acquire` takes from and `release` gives back to.
 *
 * ```ts
 * const slots = new Semaphore(3);             // at most 3 holders at once
 * if (await slots.acquire({ timeout: 500 })) { try { … } finally { slots.release(); } }
 * const b = new BoundedSemaphore(1);
 * b.release();                                // RangeError: above its initial value (Python's ValueError)
 * ```
 *
 * A semaphore has no owner: any thread or process may release, and a holder that dies keeps its unit (as in
 * Python; there is no one to recover it from).
 *
 * Layout (one segment, 4 words):
 * ```
 *  word      written by            invariant
 *  +0 KIND   creator               KIND_SEMAPHORE, never changes
 *  +1 VALUE  acquire (CAS v->v-1,  >= 0; <= BOUND when BOUND >= 0
 *            only when v > 0);
 *            release (add, or CAS
 *            below BOUND)
 *  +2 WAIT   sleepers on VALUE     atomic add/sub; release wakes as many as it added, only when > 0
 *  +3 BOUND  creator               -1: unbounded; else the initial value (BoundedSemaphore); never changes
 * ```
 * A waiter advertises, reads VALUE, re-checks, then sleeps while VALUE is what it read (wait/wait-word.ts): a
 * release changes VALUE before it looks at WAIT, so no wake-up is lost. A release of n wakes n sleepers; one that
 * gives up (abort, timeout) passes a wake-up on when a unit is free, and sleeps are sliced (100 ms), so a woken
 * waiter killed before it took its unit leaves the others late by one slice at most, never stranded.
 */
import { shareable } from '../codec/handles.js';
import { abortErrorFrom } from '../errors.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { SemaphoreStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { semaphoreStats } from '../inspect/stats.js';
import { deadlineOf, WaitWord } from '../wait/index.js';
import {
  type AcquireOptions,
  allocate,
  attachPlace,
  checkAcquireOptions,
  describe,
  KIND_SEMAPHORE,
  type Place,
  type PlaceState,
  publishKind,
  rejecting,
  type SyncAcquireOptions,
  stateOf,
} from './core.js';

const VALUE = 1;
const WAIT = 2;
const BOUND = 3;
const WORDS = 4;
const MAX_VALUE = 0x7fffffff;

const kAttach = Symbol('procq.attach');

export class Semaphore implements Disposable, AsyncDisposable {
  readonly #place: Place;
  readonly #i32: Int32Array;
  readonly #value: number;
  readonly #sleepers: WaitWord;
  readonly #ready = (): boolean => this.#tryTake();

  /**
   * @param value The initial count (default 1). @throws TypeError / RangeError unless an integer >= 0.
   * @param options `label`: a name for people, shown by `procq ls`, in `stats()` and in errors.
   */
  constructor(value?: number, options?: { label?: string });
  /** @internal */
  constructor(attach: typeof kAttach, place: Place);
  constructor(value?: number | typeof kAttach, place?: Place | { label?: string }) {
    if (value === kAttach) {
      this.#place = place as Place;
    } else {
      const initial = checkInitial(value);
      const label = labelOf(place);
      const seg = allocate(WORDS);
      this.#place = { seg, base: 0, label };
      seg.i32[VALUE] = initial;
      seg.i32[BOUND] = this._bounded() ? initial : -1;
      publishKind(this.#place, KIND_SEMAPHORE);
      registerCreated(this._bounded() ? 'BoundedSemaphore' : 'Semaphore', this.#place);
    }
    this.#i32 = this.#place.seg.i32;
    this.#value = this.#place.base + VALUE;
    this.#sleepers = new WaitWord(this.#place.seg, this.#value, this.#place.base + WAIT);
  }

  /** @internal */
  protected _bounded(): boolean {
    return false;
  }

  /**
   * Takes one unit, waiting while there is none (unless `block: false`). Resolves `true` when taken, `false` when
   * `timeout` passed first.
   *
   * Abort safety: when the signal aborts, no unit has been taken.
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return rejecting(async () => {
      const { timeoutMs, signal } = checkAcquireOptions(options, true);
      if (signal?.aborted) throw abortErrorFrom(signal);
      if (this.#tryTake()) return true;
      const deadline = deadlineOf(timeoutMs);
      if (timeoutMs === 0) return false;
      let got = false;
      try {
        got = await this.#sleepers.wait(this.#ready, deadline, signal);
        return got;
      } finally {
        if (!got) this.#passWakeOn();
      }
    });
  }

  /** Like `acquire`, blocking the calling thread. */
  acquireSync(options?: SyncAcquireOptions): boolean {
    const { timeoutMs } = checkAcquireOptions(options, false);
    if (this.#tryTake()) return true;
    if (timeoutMs === 0) return false;
    const got = this.#sleepers.waitSync(this.#ready, deadlineOf(timeoutMs));
    if (!got) this.#passWakeOn();
    return got;
  }

  /**
   * Gives back `n` units (default 1), waking as many waiters. `BoundedSemaphore`: `RangeError` (nothing given
   * back) when that would exceed the initial value.
   */
  release(n = 1): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      throw new RangeError(`Expected \`n\` to be a positive integer, got ${describe(n)}`);
    }
    const i32 = this.#i32;
    const bound = i32[this.#place.base + BOUND]!;
    for (;;) {
      const v = Atomics.load(i32, this.#value);
      const limit = bound >= 0 ? bound : MAX_VALUE;
      if (v > limit - n) {
        throw new RangeError(
          bound >= 0
            ? `${this.#place.label === undefined ? 'BoundedSemaphore' : `BoundedSemaphore '${this.#place.label}'`} released too many times (above its initial value)`
            : 'Semaphore value would overflow',
        );
      }
      if (Atomics.compareExchange(i32, this.#value, v, v + n) === v) break;
    }
    this.#sleepers.wake(n);
  }

  /** The count now (Python's `get_value()`). */
  getValue(): number {
    return Atomics.load(this.#i32, this.#value);
  }

  /** A snapshot for metrics and `procq ls`: the value, the bound, how many wait. */
  stats(): SemaphoreStats {
    return semaphoreStats(this.#place, this._bounded() ? 'BoundedSemaphore' : 'Semaphore');
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** `using`: releases one unit at the end of the scope (acquire first). */
  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  #tryTake(): boolean {
    const i32 = this.#i32;
    for (;;) {
      const v = Atomics.load(i32, this.#value);
      if (v <= 0) return false;
      if (Atomics.compareExchange(i32, this.#value, v, v - 1) === v) return true;
    }
  }

  /** A waiter that gives up may have been woken for a unit it will not take: wake another one for it. */
  #passWakeOn(): void {
    if (Atomics.load(this.#i32, this.#value) > 0) this.#sleepers.wake(1);
  }

  /** @internal */
  static {
    shareable(
      Semaphore,
      'Semaphore',
      (state: PlaceState) => new Semaphore(kAttach, attachPlace(state, KIND_SEMAPHORE, 'Semaphore')),
      (sem) => stateOf(sem.#place),
    );
  }

  get [Symbol.toStringTag](): string {
    return 'Semaphore';
  }
}

/** A `Semaphore` that cannot be released above its initial value (`RangeError`, Python's `ValueError`). */
export class BoundedSemaphore extends Semaphore {
  /** @internal */
  protected override _bounded(): boolean {
    return true;
  }

  static {
    shareable(
      BoundedSemaphore,
      'BoundedSemaphore',
      (state: PlaceState) =>
        new BoundedSemaphore(kAttach, attachPlace(state, KIND_SEMAPHORE, 'BoundedSemaphore')),
    );
  }

  override get [Symbol.toStringTag](): string {
    return 'BoundedSemaphore';
  }
}

function checkInitial(value: unknown): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number')
    throw new TypeError(`Expected \`value\` to be an integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > MAX_VALUE) {
    throw new RangeError(
      `Expected \`value\` to be an integer from 0 to ${MAX_VALUE}, got ${describe(value)}`,
    );
  }
  return value;
}
