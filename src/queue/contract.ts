/**
 * `QueueLike<T>`: the one queue contract that every transport implements (shared memory over threads and
 * processes in `queue/`, Redis in `redis/`), as crossbeam's flavours sit behind one `Sender`/`Receiver`.
 *
 * Code written against `QueueLike<T>` runs unchanged when `new Queue(...)` becomes
 * `await Queue.connect(url, { name })`. Semantics are Python's `multiprocessing.Queue` (times in milliseconds):
 * FIFO; `maxsize <= 0` means no bound; `put` waits for room, `get` for an item; `Full`/`Empty` when
 * `block: false` or the timeout passes; `ShutDown` after `shutdown()` (Python 3.13).
 *
 * What a transport cannot do exactly (a network queue's `qsize()` is a recent reading, not an instant one) is
 * stated on that transport's class, never by leaving a member out.
 */

import type { GetOptions, PutOptions, SyncGetOptions, SyncPutOptions } from './options.js';

export interface QueueLike<T = unknown> extends AsyncIterable<T>, AsyncDisposable {
  /** The bound given at construction (`<= 0`: none). */
  readonly maxsize: number;
  /** Items in the queue. */
  qsize(): number;
  empty(): boolean;
  /** True when `maxsize` items are queued; never for an unbounded queue. */
  full(): boolean;

  /** Puts `item`, waiting for room (unless `block: false`). Rejects with `Full`, `ShutDown`, `TypeError`, `AbortError`. */
  put(item: T, options?: PutOptions): Promise<void>;
  /** Like `put`, blocking the calling thread. */
  putSync(item: T, options?: SyncPutOptions): void;
  /** `put` with `block: false`: throws `Full` at once. */
  putNowait(item: T): void;
  /** Puts every item in order; resolves with the count put. */
  putMany(items: Iterable<T>, options?: PutOptions): Promise<number>;
  putManySync(items: Iterable<T>, options?: SyncPutOptions): number;

  /** Takes the oldest item, waiting for one (unless `block: false`). Rejects with `Empty`, `ShutDown`, `AbortError`. */
  get(options?: GetOptions): Promise<T>;
  getSync(options?: SyncGetOptions): T;
  /** `get` with `block: false`: throws `Empty` at once. */
  getNowait(): T;
  /** Takes between 1 and `max` items (waiting for the first). */
  getMany(max: number, options?: GetOptions): Promise<T[]>;
  getManySync(max: number, options?: SyncGetOptions): T[];

  /** Python 3.13's `shutdown`: puts fail, gets drain then fail; `immediate` discards what is left. */
  shutdown(options?: { immediate?: boolean }): void;
  readonly isShutDown: boolean;

  /** This process will use the queue no more; items already put stay queued. */
  close(): void;
  /** After `close()`: resolves once this process's part is done (buffered items flushed, connections closed). */
  joinThread(): Promise<void>;
  cancelJoinThread(): void;
}

/** `QueueLike` plus Python's `JoinableQueue`: `taskDone()` and `join()`. */
export interface JoinableQueueLike<T = unknown> extends QueueLike<T> {
  taskDone(): void;
  /** Resolves `true` when every item put has been marked done; `false` when `timeout` passes first. */
  join(options?: { timeout?: number; signal?: AbortSignal }): Promise<boolean>;
  joinSync(options?: { timeout?: number }): boolean;
}
