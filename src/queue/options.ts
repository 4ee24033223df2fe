/**
 * The options of `Queue` calls, documented and validated in one place. Times are milliseconds.
 * Misuse fails at once: a `TypeError` for a wrong type, a `RangeError` for a value out of range, with a message
 * that says what was expected and what came.
 */

export interface PutOptions {
  /** Wait for room when the queue is full. With `false`, `timeout` is ignored (Python's rule). @default true */
  block?: boolean;
  /** Milliseconds to wait before `Full`; `undefined` or `Infinity` waits forever. Must be >= 0. */
  timeout?: number;
  /** Aborting rejects the call with an `AbortError` whose `cause` is `signal.reason`; nothing has been put. */
  signal?: AbortSignal;
}

export interface GetOptions {
  /** Wait for an item when the queue is empty. With `false`, `timeout` is ignored (Python's rule). @default true */
  block?: boolean;
  /** Milliseconds to wait before `Empty`; `undefined` or `Infinity` waits forever. Must be >= 0. */
  timeout?: number;
  /** Aborting rejects the call with an `AbortError` whose `cause` is `signal.reason`; nothing has been taken. */
  signal?: AbortSignal;
}

export type SyncPutOptions = Omit<PutOptions, 'signal'>;
export type SyncGetOptions = Omit<GetOptions, 'signal'>;

export interface QueueOptions<T> {
  /**
   * Bytes the ring starts with for its frames (rounded up to a power of two). A minimum, not a limit on what can
   * be sent: the ring grows (doubling, up to 1 GiB; 64 MiB without the native addon) when an item or the backlog needs more, so memory stays
   * proportional to what is queued. `maxsize` alone decides `full()` and `Full`. @default 65536
   */
  capacityBytes?: number;
  /** Encodes every item instead of structured clone (e.g. JSON, msgpack). Both ends must use the same codec. */
  codec?: import('../codec/frames.js').Codec<T>;
  /** A name for people: shown by `procq ls` / `procq top`, in `stats()` and in errors ("queue 'jobs' is full"). */
  label?: string;
}

export const DEFAULT_CAPACITY = 1 << 16;
export const MAX_CAPACITY = 1 << 30;
/** Largest ring over a SharedArrayBuffer (thread-only fallback): an item up to half of this fits. */
export const MAX_CAPACITY_SAB = 1 << 26;

export function describe(v: unknown): string {
  if (typeof v === 'string') return `\`${JSON.stringify(v)}\` (string)`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return `\`${String(v)}\` (${typeof v})`;
  if (v === null) return '`null`';
  return `${typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v}`;
}

export function checkMaxsize(maxsize: unknown): number {
  if (maxsize === undefined) return 0;
  if (typeof maxsize !== 'number')
    throw new TypeError(`Expected \`maxsize\` to be an integer, got ${describe(maxsize)}`);
  if (!Number.isInteger(maxsize) || maxsize > 0x7fffffff) {
    throw new RangeError(
      `Expected \`maxsize\` to be an integer up to 2147483647 (<= 0: no bound), got ${describe(maxsize)}`,
    );
  }
  return maxsize;
}

export function checkCapacity(capacity: unknown): number {
  if (capacity === undefined) return DEFAULT_CAPACITY;
  if (typeof capacity !== 'number') {
    throw new TypeError(`Expected \`capacityBytes\` to be a number, got ${describe(capacity)}`);
  }
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new RangeError(
      `Expected \`capacityBytes\` to be an integer from 1 to ${MAX_CAPACITY}, got ${describe(capacity)}`,
    );
  }
  return capacity;
}

/** Validated wait options: `timeoutMs` is Infinity for "forever", 0 for `block: false`. */
export interface WaitSpec {
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

const WAIT_FOREVER: WaitSpec = Object.freeze({ timeoutMs: Number.POSITIVE_INFINITY, signal: undefined });

export function checkWaitOptions(opts: unknown, allowSignal: boolean): WaitSpec {
  if (opts === undefined || opts === null) return WAIT_FOREVER;
  if (typeof opts !== 'object') throw new TypeError(`Expected an options object, got ${describe(opts)}`);
  const { block, timeout, signal } = opts as { block?: unknown; timeout?: unknown; signal?: unknown };
  if (block !== undefined && typeof block !== 'boolean') {
    throw new TypeError(`Expected \`block\` to be a boolean, got ${describe(block)}`);
  }
  const t = checkTimeout(timeout);
  if (signal !== undefined) {
    if (!allowSignal) throw new TypeError('`signal` is only accepted by the async forms');
    if (!(signal instanceof AbortSignal))
      throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
  }
  return { timeoutMs: block === false ? 0 : t, signal: signal as AbortSignal | undefined };
}

export function checkTimeout(timeout: unknown): number {
  if (timeout === undefined || timeout === null) return Number.POSITIVE_INFINITY;
  if (typeof timeout !== 'number') {
    throw new TypeError(`Expected \`timeout\` to be a number of milliseconds, got ${describe(timeout)}`);
  }
  if (Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(
      `Expected \`timeout\` to be a non-negative number of milliseconds, got ${describe(timeout)}`,
    );
  }
  return timeout;
}
