/**
 * `SharedArray`: Python's `multiprocessing.Array`, a fixed-length array of numbers in shared memory.
 *
 * ```ts
 * const a = new SharedArray('d', [1.5, 2.5]);   // or new SharedArray('i', 10): ten zeros
 * a.set(0, 4); a.get(0); a.length;               // one element: an atomic read or write
 * a.view[1] = 3;                                 // a typed array over the same memory: fast, unlocked
 * ```
 *
 * Typecodes, atomicity and the lock as for `Value`. `get`/`set` check the index (`RangeError`) and the type
 * (`TypeError`); `view` is the plain typed array for bulk work, to be guarded with `getLock()` when several
 * writers share it.
 *
 * Layout: shared-data.ts.
 */
import { shareable } from '../codec/handles.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { DataStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { dataStats } from '../inspect/stats.js';
import { describe, KIND_ARRAY } from './core.js';
import type { Lock } from './lock.js';
import type { RLock } from './rlock.js';
import {
  checkLockOption,
  type DataState,
  type LockOption,
  MAX_LENGTH,
  noLockError,
  SharedData,
} from './shared-data.js';
import { checkElement, checkTypeCode, type ElementOf, type InputOf, type TypeCode } from './typecodes.js';

export interface SharedArrayOptions {
  /** `true`: a new RLock; a `Lock` or `RLock`: that one; `false`: none. @default true */
  lock?: LockOption;
  /** A name for people, shown by `procq ls` and in `stats()`. */
  label?: string;
}

/** The typed array `view` is, for each typecode. */
export type ViewOf<C extends TypeCode> = C extends 'b'
  ? Int8Array
  : C extends 'B'
    ? Uint8Array
    : C extends 'h'
      ? Int16Array
      : C extends 'H'
        ? Uint16Array
        : C extends 'i'
          ? Int32Array
          : C extends 'I'
            ? Uint32Array
            : C extends 'l' | 'q'
              ? BigInt64Array
              : C extends 'L' | 'Q'
                ? BigUint64Array
                : C extends 'f'
                  ? Float32Array
                  : Float64Array;

const kAttach = Symbol('procq.attach');

export class SharedArray<C extends TypeCode = TypeCode> implements Iterable<ElementOf<C>> {
  readonly #data: SharedData;

  /**
   * @param typecode One of `b B h H i I l L q Q f d`.
   * @param sizeOrInit A length (zero-filled), or the initial elements (any iterable of numbers/bigints).
   * @throws TypeError / RangeError for an unknown typecode, a bad length or an element of the wrong type.
   */
  constructor(typecode: C, sizeOrInit: number | Iterable<InputOf<C>>, options?: SharedArrayOptions);
  /** @internal */
  constructor(attach: typeof kAttach, data: SharedData);
  constructor(
    typecode: C | typeof kAttach,
    sizeOrInit: number | Iterable<InputOf<C>> | SharedData,
    options?: SharedArrayOptions,
  ) {
    if (typecode === kAttach) {
      this.#data = sizeOrInit as SharedData;
      return;
    }
    const code = checkTypeCode(typecode);
    const init = initialElements(code, sizeOrInit);
    const label = labelOf(options);
    const lock = checkLockOption(options?.lock);
    const length = typeof init === 'number' ? init : init.length;
    this.#data = SharedData.create(KIND_ARRAY, code, length, lock, label);
    registerCreated('SharedArray', this.#data.place);
    if (typeof init !== 'number') {
      const el = this.#data.elements;
      for (let i = 0; i < init.length; i++) el.set(i, init[i]!);
    }
  }

  get typecode(): C {
    return this.#data.elements.typecode as C;
  }

  get length(): number {
    return this.#data.elements.length;
  }

  /** The elements as a typed array over the shared memory: plain (unlocked, non-atomic for `'d'`) access. */
  get view(): ViewOf<C> {
    return this.#data.elements.view as ViewOf<C>;
  }

  /** Element `index` (an atomic read). Negative indexes count from the end, as in Python. */
  get(index: number): ElementOf<C> {
    const i = this.#index(index);
    const el = this.#data.elements;
    return this.#data.atomically(() => el.get(i)) as ElementOf<C>;
  }

  /** Stores element `index` (an atomic write). Negative indexes count from the end. */
  set(index: number, value: InputOf<C>): void {
    const i = this.#index(index);
    const el = this.#data.elements;
    const v = checkElement(el.typecode, value);
    this.#data.atomically(() => el.set(i, v));
  }

  /** A copy of the elements as a plain array (each read atomic; the whole is a snapshot only under the lock). */
  toArray(): ElementOf<C>[] {
    const out: ElementOf<C>[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.get(i));
    return out;
  }

  *[Symbol.iterator](): Iterator<ElementOf<C>> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** The lock for multi-element updates (Python's `get_lock()`). Throws with `lock: false`. */
  getLock(): Lock | RLock {
    const lock = this.#data.lock;
    if (lock === undefined) throw noLockError('SharedArray');
    return lock;
  }

  #index(index: number): number {
    const n = this.length;
    if (typeof index !== 'number' || !Number.isInteger(index)) {
      throw new TypeError(`Expected \`index\` to be an integer, got ${describe(index)}`);
    }
    const i = index < 0 ? index + n : index;
    if (i < 0 || i >= n) throw new RangeError(`index ${index} out of range for a SharedArray of length ${n}`);
    return i;
  }

  /** A snapshot for metrics and `procq ls`: typecode, length, who holds its own lock. */
  stats(): DataStats {
    return dataStats(this.#data.place, 'SharedArray');
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** @internal */
  static {
    shareable(
      SharedArray,
      'SharedArray',
      (state: DataState) => new SharedArray(kAttach, SharedData.attach(state, KIND_ARRAY, 'SharedArray')),
      (array) => array.#data.state(),
    );
  }

  get [Symbol.toStringTag](): string {
    return 'SharedArray';
  }
}

function initialElements(code: TypeCode, sizeOrInit: unknown): number | (number | bigint)[] {
  if (typeof sizeOrInit === 'number') {
    if (!Number.isInteger(sizeOrInit) || sizeOrInit < 0 || sizeOrInit > MAX_LENGTH) {
      throw new RangeError(
        `Expected \`sizeOrInit\` to be an integer from 0 to ${MAX_LENGTH} or an iterable, got ${describe(sizeOrInit)}`,
      );
    }
    return sizeOrInit;
  }
  if (typeof sizeOrInit !== 'object' || sizeOrInit === null || !(Symbol.iterator in sizeOrInit)) {
    throw new TypeError(`Expected \`sizeOrInit\` to be a length or an iterable, got ${describe(sizeOrInit)}`);
  }
  const init = Array.from(sizeOrInit as Iterable<unknown>, (v, i) =>
    checkElement(code, v, `sizeOrInit[${i}]`),
  );
  if (init.length > MAX_LENGTH)
    throw new RangeError(`Expected at most ${MAX_LENGTH} elements, got ${init.length}`);
  return init;
}
