/**
 * The objects a `SyncManager`'s server holds (Python's `managers.py` registers `dict`, `list`, `Namespace`,
 * `Queue`, `threading.Lock`, …): plain objects of the server process, reached only through proxies. Their public
 * methods are what a proxy exposes (names as in Python, camelCase where Python's has an underscore); a method
 * whose first parameter is the caller (`CALLER_AWARE`) receives the id of the client connection that called it
 * (an RLock's owner is the calling client, as Python's is the server thread serving that client).
 *
 * Each creator below is what `register(typeid, { callable })` names for the built-in types.
 */

import { BrokenBarrierError } from '../errors.js';
import { JoinableQueue, Queue } from '../queue/queue.js';

/** Methods listed here get the caller's connection id as their first argument. */
export const CALLER_AWARE: unique symbol = Symbol('procq.manager.callerAware');

interface AcquireOptions {
  block?: boolean;
  timeout?: number | null;
}

function keyError(key: unknown): Error {
  const err = new RangeError(`KeyError: ${typeof key === 'string' ? `'${key}'` : String(key)}`);
  err.name = 'KeyError';
  return err;
}

function normIndex(i: number, n: number, what = 'list index out of range'): number {
  if (!Number.isInteger(i)) throw new TypeError(`Expected an integer index, got ${String(i)}`);
  const j = i < 0 ? i + n : i;
  if (j < 0 || j >= n) throw new RangeError(what);
  return j;
}

/** Python's `dict`, over a `Map` (keys compare as Map keys do: strings and numbers by value). */
export class DictObject {
  readonly #m: Map<unknown, unknown>;
  constructor(init?: Iterable<[unknown, unknown]> | Record<string, unknown>) {
    this.#m = new Map(
      init === undefined
        ? []
        : Symbol.iterator in Object(init)
          ? (init as Iterable<[unknown, unknown]>)
          : Object.entries(init),
    );
  }
  /** `d[k]`: `KeyError` when missing. */
  getitem(key: unknown): unknown {
    if (!this.#m.has(key)) throw keyError(key);
    return this.#m.get(key);
  }
  /** `d.get(k, default)`. */
  get(key: unknown, defaultValue: unknown = null): unknown {
    return this.#m.has(key) ? this.#m.get(key) : defaultValue;
  }
  set(key: unknown, value: unknown): void {
    this.#m.set(key, value);
  }
  /** `del d[k]`: `KeyError` when missing. */
  delete(key: unknown): void {
    if (!this.#m.delete(key)) throw keyError(key);
  }
  has(key: unknown): boolean {
    return this.#m.has(key);
  }
  length(): number {
    return this.#m.size;
  }
  keys(): unknown[] {
    return [...this.#m.keys()];
  }
  values(): unknown[] {
    return [...this.#m.values()];
  }
  items(): [unknown, unknown][] {
    return [...this.#m.entries()];
  }
  pop(key: unknown, ...defaultValue: unknown[]): unknown {
    if (this.#m.has(key)) {
      const v = this.#m.get(key);
      this.#m.delete(key);
      return v;
    }
    if (defaultValue.length > 0) return defaultValue[0];
    throw keyError(key);
  }
  popitem(): [unknown, unknown] {
    const last = [...this.#m.entries()].pop();
    if (last === undefined) throw keyError('popitem(): dictionary is empty');
    this.#m.delete(last[0]);
    return last;
  }
  setdefault(key: unknown, defaultValue: unknown = null): unknown {
    if (!this.#m.has(key)) this.#m.set(key, defaultValue);
    return this.#m.get(key);
  }
  update(other: Iterable<[unknown, unknown]> | Record<string, unknown>): void {
    const entries =
      Symbol.iterator in Object(other) ? (other as Iterable<[unknown, unknown]>) : Object.entries(other);
    for (const [k, v] of entries) this.#m.set(k, v);
  }
  clear(): void {
    this.#m.clear();
  }
  /** A copy, as a `Map`. */
  copy(): Map<unknown, unknown> {
    return new Map(this.#m);
  }
}

function pyCompare(a: any, b: any): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Python's `list`. */
export class ListObject {
  readonly #a: unknown[];
  constructor(init?: Iterable<unknown>) {
    this.#a = init === undefined ? [] : [...init];
  }
  get(index: number): unknown {
    return this.#a[normIndex(index, this.#a.length)];
  }
  set(index: number, value: unknown): void {
    this.#a[normIndex(index, this.#a.length, 'list assignment index out of range')] = value;
  }
  delete(index: number): void {
    this.#a.splice(normIndex(index, this.#a.length, 'list assignment index out of range'), 1);
  }
  length(): number {
    return this.#a.length;
  }
  append(value: unknown): void {
    this.#a.push(value);
  }
  extend(values: Iterable<unknown>): void {
    this.#a.push(...values);
  }
  insert(index: number, value: unknown): void {
    const n = this.#a.length;
    const j = index < 0 ? Math.max(0, index + n) : Math.min(index, n);
    this.#a.splice(j, 0, value);
  }
  pop(index = -1): unknown {
    const j = normIndex(index, this.#a.length, 'pop index out of range');
    return this.#a.splice(j, 1)[0];
  }
  remove(value: unknown): void {
    const j = this.#a.findIndex((x) => Object.is(x, value) || x === value);
    if (j < 0) throw new RangeError('list.remove(x): x not in list');
    this.#a.splice(j, 1);
  }
  index(value: unknown): number {
    const j = this.#a.findIndex((x) => Object.is(x, value) || x === value);
    if (j < 0) throw new RangeError(`${String(value)} is not in list`);
    return j;
  }
  count(value: unknown): number {
    return this.#a.filter((x) => Object.is(x, value) || x === value).length;
  }
  reverse(): void {
    this.#a.reverse();
  }
  /** Sorts numbers and strings as Python does (by value, not as strings); `reverse` as Python's. */
  sort(options: { reverse?: boolean } = {}): void {
    this.#a.sort(pyCompare);
    if (options.reverse) this.#a.reverse();
  }
  /** `l[start:end]`. */
  slice(start?: number, end?: number): unknown[] {
    return this.#a.slice(start, end);
  }
  /** `l[start:end] = values`. */
  setSlice(start: number, end: number, values: Iterable<unknown>): void {
    const n = this.#a.length;
    const s = start < 0 ? Math.max(0, start + n) : Math.min(start, n);
    const e = end < 0 ? Math.max(s, end + n) : Math.max(s, Math.min(end, n));
    this.#a.splice(s, e - s, ...values);
  }
  copy(): unknown[] {
    return [...this.#a];
  }
}

/** Python's `Namespace`: attributes by name. */
export class NamespaceObject {
  readonly #o = new Map<string, unknown>();
  constructor(init: Record<string, unknown> = {}) {
    for (const [k, v] of Object.entries(init)) this.#o.set(k, v);
  }
  get(name: string): unknown {
    if (!this.#o.has(name)) {
      const err = new TypeError(`'Namespace' object has no attribute '${name}'`);
      err.name = 'AttributeError';
      throw err;
    }
    return this.#o.get(name);
  }
  set(name: string, value: unknown): void {
    this.#o.set(name, value);
  }
  delete(name: string): void {
    this.get(name);
    this.#o.delete(name);
  }
  has(name: string): boolean {
    return this.#o.has(name);
  }
  /** The attributes as a plain object. */
  toObject(): Record<string, unknown> {
    return Object.fromEntries(this.#o);
  }
}

/** Python's `Value` proxy: `get()` and `set()` (the typecode is not enforced: the server holds a JS value). */
export class ValueObject {
  #v: unknown;
  constructor(typecode: unknown, value: unknown = 0) {
    void typecode;
    this.#v = value;
  }
  get(): unknown {
    return this.#v;
  }
  set(value: unknown): void {
    this.#v = value;
  }
}

/** Python's `Array` proxy (`SyncManager.Array`): a fixed-length list. */
export class ArrayObject {
  readonly #a: unknown[];
  constructor(typecode: unknown, init: number | Iterable<unknown>) {
    void typecode;
    this.#a = typeof init === 'number' ? new Array(init).fill(0) : [...init];
  }
  get(index: number): unknown {
    return this.#a[normIndex(index, this.#a.length, 'array index out of range')];
  }
  set(index: number, value: unknown): void {
    this.#a[normIndex(index, this.#a.length, 'array assignment index out of range')] = value;
  }
  length(): number {
    return this.#a.length;
  }
  slice(start?: number, end?: number): unknown[] {
    return this.#a.slice(start, end);
  }
  copy(): unknown[] {
    return [...this.#a];
  }
}

/** Waiters of a server-side primitive, woken in order; each can time out. */
class WaitList {
  readonly #waiters: { wake: () => void }[] = [];
  /** Resolves true when woken, false after `timeoutMs`. */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const entry = {
        wake: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.#waiters.push(entry);
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(() => {
          const i = this.#waiters.indexOf(entry);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(false);
        }, timeoutMs);
      }
    });
  }
  wakeOne(): boolean {
    const w = this.#waiters.shift();
    w?.wake();
    return w !== undefined;
  }
  wakeAll(): void {
    for (const w of this.#waiters.splice(0)) w.wake();
  }
  get size(): number {
    return this.#waiters.length;
  }
}

function timeoutOf(options: AcquireOptions | undefined): number {
  if (options?.block === false) return 0;
  const t = options?.timeout;
  return t === undefined || t === null ? Number.POSITIVE_INFINITY : Math.max(0, t);
}

/** Python's `threading.Semaphore` (and `BoundedSemaphore` with `bounded`). */
export class SemaphoreObject {
  #value: number;
  readonly #initial: number;
  readonly #bounded: boolean;
  readonly #waiters = new WaitList();
  constructor(value = 1, bounded = false) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError('semaphore initial value must be >= 0');
    this.#value = value;
    this.#initial = value;
    this.#bounded = bounded;
  }
  async acquire(options?: AcquireOptions): Promise<boolean> {
    const timeoutMs = timeoutOf(options);
    const deadline = performance.now() + timeoutMs;
    while (this.#value === 0) {
      const left = deadline - performance.now();
      if (left <= 0 || !(await this.#waiters.wait(left))) {
        if (this.#value === 0) return false;
      }
    }
    this.#value--;
    return true;
  }
  release(n = 1): void {
    if (this.#bounded && this.#value + n > this.#initial)
      throw new RangeError('Semaphore released too many times');
    this.#value += n;
    for (let i = 0; i < n; i++) this.#waiters.wakeOne();
  }
  getValue(): number {
    return this.#value;
  }
}

/** Python's `threading.Lock`: anyone may release it. */
export class LockObject {
  readonly #sem = new SemaphoreObject(1);
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#sem.acquire(options);
  }
  release(): void {
    if (this.#sem.getValue() === 1) throw new RangeError('release unlocked lock');
    this.#sem.release();
  }
  locked(): boolean {
    return this.#sem.getValue() === 0;
  }
}

/** Python's `threading.RLock`: owned by the client that acquired it (one owner per client connection). */
export class RLockObject {
  static readonly [CALLER_AWARE] = new Set(['acquire', 'release']);
  readonly #sem = new SemaphoreObject(1);
  #owner: string | undefined;
  #count = 0;
  async acquire(caller: string, options?: AcquireOptions): Promise<boolean> {
    if (this.#owner === caller) {
      this.#count++;
      return true;
    }
    if (!(await this.#sem.acquire(options))) return false;
    this.#owner = caller;
    this.#count = 1;
    return true;
  }
  release(caller: string): void {
    if (this.#owner !== caller) throw new RangeError('cannot release un-acquired lock');
    if (--this.#count === 0) {
      this.#owner = undefined;
      this.#sem.release();
    }
  }
}

/** Python's `threading.Event`. */
export class EventObject {
  #flag = false;
  readonly #waiters = new WaitList();
  isSet(): boolean {
    return this.#flag;
  }
  set(): void {
    this.#flag = true;
    this.#waiters.wakeAll();
  }
  clear(): void {
    this.#flag = false;
  }
  /** Waits until set, at most `timeout` ms; returns the flag. */
  async wait(timeout?: number | null): Promise<boolean> {
    if (this.#flag) return true;
    await this.#waiters.wait(
      timeout === undefined || timeout === null ? Number.POSITIVE_INFINITY : Math.max(0, timeout),
    );
    return this.#flag;
  }
}

/** Python's `threading.Barrier`. */
export class BarrierObject {
  readonly #parties: number;
  readonly #defaultTimeout: number | null;
  #count = 0;
  #generation = 0;
  #broken = false;
  readonly #waiters = new WaitList();
  constructor(parties: number, action?: unknown, timeout: number | null = null) {
    void action;
    if (!Number.isInteger(parties) || parties < 1) throw new RangeError('parties must be > 0');
    this.#parties = parties;
    this.#defaultTimeout = timeout;
  }
  async wait(timeout?: number | null): Promise<number> {
    if (this.#broken) throw new BrokenBarrierError();
    const index = this.#count++;
    const generation = this.#generation;
    if (this.#count === this.#parties) {
      this.#count = 0;
      this.#generation++;
      this.#waiters.wakeAll();
      return index;
    }
    const t = timeout ?? this.#defaultTimeout;
    const woken = await this.#waiters.wait(t === null ? Number.POSITIVE_INFINITY : Math.max(0, t));
    if (this.#generation !== generation && !this.#broken) return index;
    if (!woken) this.abort();
    throw new BrokenBarrierError();
  }
  abort(): void {
    this.#broken = true;
    this.#waiters.wakeAll();
  }
  reset(): void {
    if (this.#count > 0) this.abort();
    this.#broken = false;
    this.#count = 0;
    this.#generation++;
  }
  parties(): number {
    return this.#parties;
  }
  nWaiting(): number {
    return this.#count;
  }
  broken(): boolean {
    return this.#broken;
  }
}

/** Python's `Condition` proxy: a lock (an RLock by default) with wait / notify. */
export class ConditionObject {
  static readonly [CALLER_AWARE] = new Set(['acquire', 'release', 'wait']);
  readonly #lock = new RLockObject();
  readonly #waiters = new WaitList();
  acquire(caller: string, options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(caller, options);
  }
  release(caller: string): void {
    this.#lock.release(caller);
  }
  /** Releases the lock, waits for a notify (at most `timeout` ms), takes the lock again; false on timeout. */
  async wait(caller: string, timeout?: number | null): Promise<boolean> {
    this.#lock.release(caller);
    const woken = await this.#waiters.wait(
      timeout === undefined || timeout === null ? Number.POSITIVE_INFINITY : Math.max(0, timeout),
    );
    await this.#lock.acquire(caller);
    return woken;
  }
  notify(n = 1): void {
    for (let i = 0; i < n; i++) if (!this.#waiters.wakeOne()) break;
  }
  notifyAll(): void {
    this.#waiters.wakeAll();
  }
}

/** The built-in creators, by the name `register` records (the server imports this module to find them). */
export const builtins = {
  dict: (init?: Iterable<[unknown, unknown]> | Record<string, unknown>) => new DictObject(init),
  list: (init?: Iterable<unknown>) => new ListObject(init),
  Namespace: (init?: Record<string, unknown>) => new NamespaceObject(init),
  Value: (typecode: unknown, value: unknown) => new ValueObject(typecode, value),
  Array: (typecode: unknown, init: number | Iterable<unknown>) => new ArrayObject(typecode, init),
  Lock: () => new LockObject(),
  RLock: () => new RLockObject(),
  Semaphore: (value?: number) => new SemaphoreObject(value),
  BoundedSemaphore: (value?: number) => new SemaphoreObject(value, true),
  Event: () => new EventObject(),
  Barrier: (parties: number, action?: unknown, timeout?: number | null) =>
    new BarrierObject(parties, action, timeout),
  Condition: () => new ConditionObject(),
  Queue: (maxsize?: number) => new Queue(maxsize),
  JoinableQueue: (maxsize?: number) => new JoinableQueue(maxsize),
} as const;

export type BuiltinTypeid = keyof typeof builtins;
