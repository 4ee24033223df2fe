/**
 * The options of `Queue` calls, documented and validated in one place. Times are milliseconds.
 * Misuse fails at once: a `TypeError` for a wrong type, a `RangeError` for a value out of range, with a message
 * that says what was expected and what came. The checks every layer shares (`describe`, timeouts, `maxsize`)
 * live in `../options.ts` and are re-exported here.
 */
import { describe } from '../options.js';

export {
  checkMaxsize,
  checkTimeout,
  checkWaitOptions,
  describe,
  type WaitSpec,
} from '../options.js';

export interface PutOptions {
  /** Wait for room when the queue is full. With `false`, `timeout` is ignored (Python's rule). @default true */
  block?: boolean;
  /** Milliseconds to wait before `Full`; `undefined` or `Infinity` waits forever; a negative timeout is 0 (Python's rule). */
  timeout?: number;
  /** Aborting rejects the call with an `AbortError` whose `cause` is `signal.reason`; nothing has been put. */
  signal?: AbortSignal;
}

export interface GetOptions {
  /** Wait for an item when the queue is empty. With `false`, `timeout` is ignored (Python's rule). @default true */
  block?: boolean;
  /** Milliseconds to wait before `Empty`; `undefined` or `Infinity` waits forever; a negative timeout is 0 (Python's rule). */
  timeout?: number;
  /** Aborting rejects the call with an `AbortError` whose `cause` is `signal.reason`; nothing has been taken. */
  signal?: AbortSignal;
}

export type SyncPutOptions = Omit<PutOptions, 'signal'>;
export type SyncGetOptions = Omit<GetOptions, 'signal'>;

export interface QueueOptions<T> {
  /**
   * Bytes the ring starts with for its frames (rounded up to a power of two). A minimum, not a limit on what can
   * be sent: the ring grows (doubling, up to 16 MiB or this size if larger) when an item or the backlog needs more,
   * and what it has no room for goes to overflow blocks chained to it, so memory stays proportional to what is
   * queued and only `/dev/shm` bounds it (without the native addon: a 64 MiB ring and no blocks). `maxsize` alone
   * decides `full()` and `Full`. @default 65536
   */
  capacityBytes?: number;
  /** Encodes every item instead of structured clone (e.g. JSON, msgpack). Both ends must use the same codec. */
  codec?: import('../codec/frames.js').Codec<T>;
  /** A name for people: shown by `procq ls` / `procq top`, in `stats()` and in errors ("queue 'jobs' is full"). */
  label?: string;
}

export const DEFAULT_CAPACITY = 1 << 16;
export const MAX_CAPACITY = 1 << 30;
/**
 * Largest ring a shared-memory queue reserves unless `capacityBytes` asks for more: the backlog beyond it goes to
 * overflow blocks. Kept small because V8 counts a mapping's whole size as external memory: a 1 GiB reservation
 * made every `new Queue()` and every attach in a child start a full garbage collection ("external memory
 * pressure", measured: a second `new Queue()` 5.8 ms with a 1 GiB ring, 0.7 ms with 16 MiB).
 */
export const RING_MAX_SHM = 1 << 24;
/** Largest ring over a SharedArrayBuffer (thread-only fallback): an item up to half of this fits. */
export const MAX_CAPACITY_SAB = 1 << 26;

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
