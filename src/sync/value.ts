/**
 * `Value`: Python's `multiprocessing.Value`, one number in shared memory.
 *
 * ```ts
 * const counter = new Value('i', 0);
 * // in each child:
 * counter.getLock().acquireSync();
 * try { counter.value += 1; } finally { counter.getLock().release(); }   // read-modify-write needs the lock
 * ```
 *
 * Typecodes as Python's (`typecodes.ts`): `'b' 'B' 'h' 'H' 'i' 'I'` (integers up to 32 bits), `'l' 'L' 'q' 'Q'`
 * (64-bit integers, as `bigint`), `'f' 'd'` (floats). One read or one write of `.value` is atomic; `+=` is a read
 * then a write, so it needs the lock, as in Python. The lock is an `RLock` by default (`lock: true`); pass a
 * `Lock`/`RLock` to share one, or `lock: false` for none (Python's `RawValue`; `getLock()` then throws).
 *
 * Types: `new Value('q', 1n).value` is a `bigint`, `new Value('i', 1).value` a `number`. An integer typecode
 * given a non-integer number literal does not compile (`new Value('i', 1.5)`); a value typed just `number`, and
 * every `.value = …`, is checked at run time instead (`TypeError`, as ctypes), since TypeScript has no integer
 * type. Integers out of range wrap, as in ctypes.
 *
 * Layout: shared-data.ts.
 */
import { shareable } from '../codec/handles.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { DataStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { dataStats } from '../inspect/stats.js';
import { KIND_VALUE } from './core.js';
import type { Lock } from './lock.js';
import type { RLock } from './rlock.js';
import { checkLockOption, type DataState, type LockOption, noLockError, SharedData } from './shared-data.js';
import {
  checkElement,
  checkTypeCode,
  type ElementOf,
  type InputOf,
  type IntegerLiteralCheck,
  type TypeCode,
} from './typecodes.js';

export interface ValueOptions {
  /** `true`: a new RLock; a `Lock` or `RLock`: that one; `false`: none. @default true */
  lock?: LockOption;
  /** A name for people, shown by `procq ls` and in `stats()`. */
  label?: string;
}

const kAttach = Symbol('procq.attach');

/**
 * One number in shared memory. `C` is the typecode, inferred from the constructor: `bigint` codes give
 * `bigint` values. `V` is the initial value's type, inferred only to reject a non-integer literal for an integer
 * typecode at compile time (`new Value('i', 1.5)`); it never needs writing.
 */
export class Value<C extends TypeCode = TypeCode, V extends InputOf<C> = InputOf<C>> {
  readonly #data: SharedData;

  /**
   * @param typecode One of `b B h H i I l L q Q f d`.
   * @param init The initial value (default 0); a `bigint` or a safe integer for the 64-bit typecodes.
   * @throws TypeError for an unknown typecode or a value of the wrong type.
   */
  constructor(typecode: C, init?: V & IntegerLiteralCheck<C, V>, options?: ValueOptions);
  /** @internal */
  constructor(attach: typeof kAttach, data: SharedData);
  constructor(typecode: C | typeof kAttach, init?: V | SharedData, options?: ValueOptions) {
    if (typecode === kAttach) {
      this.#data = init as SharedData;
      return;
    }
    const code = checkTypeCode(typecode);
    const first = checkElement(code, init ?? 0, 'init');
    const label = labelOf(options);
    const lock = checkLockOption(options?.lock);
    this.#data = SharedData.create(KIND_VALUE, code, 1, lock, label);
    registerCreated('Value', this.#data.place);
    this.#data.elements.set(0, first);
  }

  get typecode(): C {
    return this.#data.elements.typecode as C;
  }

  /** The number now (an atomic read). */
  get value(): ElementOf<C> {
    const el = this.#data.elements;
    return this.#data.atomically(() => el.get(0)) as ElementOf<C>;
  }

  /** Stores a number (an atomic write). @throws TypeError for a value of the wrong type. */
  set value(v: InputOf<C>) {
    const el = this.#data.elements;
    const checked = checkElement(el.typecode, v);
    this.#data.atomically(() => el.set(0, checked));
  }

  /** The lock that guards read-modify-write sequences (Python's `get_lock()`). Throws with `lock: false`. */
  getLock(): Lock | RLock {
    const lock = this.#data.lock;
    if (lock === undefined) throw noLockError('Value');
    return lock;
  }

  /** A snapshot for metrics and `procq ls`: typecode, who holds its own lock. */
  stats(): DataStats {
    return dataStats(this.#data.place, 'Value');
  }

  /** What `console.log(value)` shows: `stats()` and the value, read without the lock (a snapshot). */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect, () => ({ value: this.#data.elements.get(0) })); // no lock: a snapshot
  }

  static {
    shareable(
      Value,
      'Value',
      (state: DataState) => new Value(kAttach, SharedData.attach(state, KIND_VALUE, 'Value')),
      (value) => value.#data.state(),
    );
  }

  toString(): string {
    return `Value('${this.typecode}', ${String(this.value)})`;
  }

  get [Symbol.toStringTag](): string {
    return 'Value';
  }
}
