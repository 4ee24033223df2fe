/**
 * A segment is a region of shared memory plus the one way to block and wake on its words.
 *
 * Every algorithm that touches shared memory (the ring, the locks, events, values) is written once against this
 * interface and runs unchanged over both implementations:
 * - `SabSegment` (`sab-segment.ts`): a `SharedArrayBuffer`, waits through `Atomics.wait` / `Atomics.waitAsync`.
 *   Reaches the worker threads of one process; pure JavaScript, the fallback without the native addon.
 * - `ShmSegment` (`shm-segment.ts`): POSIX shared memory mapped by the native addon, waits through a
 *   process-shared futex. Reaches any mix of threads and processes.
 *
 * The two wake mechanisms do not interoperate (V8 emulates `Atomics.wait` inside one process), so a segment
 * never mixes them: all waiting on a segment goes through its own `wait`/`waitAsync`/`notify`.
 *
 * Indexes are in 32-bit words (`index` addresses `i32[index]`), as with `Atomics`.
 */

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** What another thread or process needs to attach to the same memory. Structured-cloneable. */
export type SegmentHandle =
  | { readonly kind: 'sab'; readonly sab: SharedArrayBuffer }
  | { readonly kind: 'shm'; readonly name: string; readonly size: number };

/** A pending asynchronous wait that can be given up early. */
export interface AsyncWait {
  readonly promise: Promise<WaitResult>;
  /** Ends the wait early; `promise` then resolves (with 'ok' or 'timed-out', whichever came first). Idempotent. */
  cancel(): void;
}

export interface Segment {
  readonly kind: 'sab' | 'shm';
  /** Total bytes mapped. Never changes. */
  readonly byteLength: number;
  /** The whole segment as 32-bit words; all atomics go through this view. */
  readonly i32: Int32Array;
  /** The whole segment as bytes; a `Buffer` so strings encode and decode in place. */
  readonly bytes: Buffer;
  /**
   * Blocks the calling thread while `i32[index] === expected`, for at most `timeoutMs` (`Infinity`: no limit).
   * Spurious wake-ups are allowed: callers re-check their condition in a loop. `parked`: the index of a word raised
   * by one for as long as the caller may be asleep in the kernel (from before the compare-and-sleep until it
   * returns), so that a waker reading 0 there after changing `i32[index]` knows nobody needs its `notify`.
   */
  wait(index: number, expected: number, timeoutMs: number, parked?: number): WaitResult;
  /**
   * Like `wait` without blocking the thread. A pending wait keeps the event loop alive, as a pending socket read
   * does (a bare `Atomics.waitAsync` does not: nodejs/node#44729).
   */
  waitAsync(index: number, expected: number, timeoutMs: number, parked?: number): AsyncWait;
  /**
   * Wakes up to `count` waiters (`Infinity`: all) blocked on `i32[index]`, in any thread or process. Returns how
   * many it woke.
   */
  notify(index: number, count: number): number;
  /**
   * Makes sure bytes `[offset, offset + length)` are backed by memory before they are touched, so that a full
   * `/dev/shm` is a clean `Error` here instead of a SIGBUS later. A no-op where the OS commits lazily and safely.
   */
  commit(offset: number, length: number): void;
  /**
   * Gives the memory behind whole pages of `[offset, offset + length)` back (they read as zeros after, and must be
   * committed again before use). A no-op where memory cannot be released.
   */
  release(offset: number, length: number): void;
  /** A cloneable description from which `attachSegment` maps the same memory elsewhere. */
  handle(): SegmentHandle;
}
