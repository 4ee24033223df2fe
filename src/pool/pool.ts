/**
 * `Pool`: Python's `multiprocessing.Pool`, a fixed set of workers (threads or processes) that run a function over
 * many items.
 *
 * ```ts
 * // squares.ts
 * import { isMainProcess, Pool } from 'procq';
 *
 * export function square(x: number): number {
 *   return x * x;
 * }
 *
 * if (isMainProcess()) {
 *   await using pool = new Pool({ processes: 4 });
 *   console.log(await pool.map(square, [1, 2, 3]));               // [1, 4, 9]
 *   for await (const y of pool.imapUnordered(square, [4, 5])) console.log(y);
 *   console.log(await pool.apply(square, [7]));                   // 49
 * }
 * ```
 *
 * Functions: a worker cannot receive a function (functions do not clone), so it imports the module that exports
 * it and calls the export, as `Process` does with its target. Give the pool
 * - a function exported by the module that calls the pool method, or imported there from a relative module
 *   (`import { square } from './tasks.js'`);
 * - an export's name, with the pool's `module` option;
 * - `{ module, name }`.
 * A function that visibly cannot be found fails the call with a `ProcessError` that says what to export; one the
 * worker cannot find fails the call the same way, from the worker. Async functions are awaited.
 *
 * Errors: a function that throws fails its call with an error of the same built-in class, message, own properties
 * and stack (the worker's: where it was thrown); the pool goes on. A worker that dies (killed, `process.exit`)
 * fails the task it was running with a `ProcessError` saying so, and a new worker takes its place; tasks it had not
 * started go to other workers. (CPython's pool waits forever in that case.)
 *
 * Lifetime, as in Python: `close()` takes no more work and lets the workers exit once the work is done;
 * `terminate()` ends the workers now and fails unfinished work; `join()` (after either) waits for the workers to
 * end. `await using` terminates (Python's `with Pool() as p:`). Workers are daemons: an idle pool does not keep
 * the program alive, and they are ended when it exits.
 *
 * Every method that returns a Promise (or an `AsyncResult`, or an iterator) reports errors through it, argument
 * errors included; calls on a closed or terminated pool fail with `ClosedError`.
 */

import { checkLabel } from '../inspect/label.js';
import { cpuCount, type StartMethod } from '../process/current.js';
import { getStartMethod } from '../process/start-method.js';
import { callerModuleUrl } from '../process/target.js';
import { PoolEngine } from './engine.js';
import { type FunctionEntry, type FunctionRef, FunctionTable } from './functions.js';
import { IMapIterator, IterJob, ListJob } from './jobs.js';
import {
  checkArgs,
  checkChunksize,
  checkIterable,
  checkPoolOptions,
  type MapOptions,
  type PoolOptions,
} from './options.js';
import type { InitMessage } from './protocol.js';
import { AsyncResult, type ResultCallbacks } from './result.js';

/** A function named by its export rather than given itself: `'name'` (with the pool's `module`) or `{ module, name }`. */
export type NamedFunction = string | FunctionRef;

export type MapAsyncOptions<R> = MapOptions & ResultCallbacks<R[]>;

interface ListSpec {
  readonly items: readonly unknown[];
  readonly star: boolean;
  readonly chunksize: number;
  readonly single: boolean;
}

export class Pool implements AsyncDisposable {
  readonly #engine: PoolEngine;
  readonly #functions = new FunctionTable();
  readonly #module: string | URL | undefined;
  readonly #processes: number;
  readonly #startMethod: StartMethod;

  /**
   * Starts the workers. Throws `TypeError`/`RangeError` for bad options, `ProcessError` when the initializer
   * visibly cannot be found or a worker cannot start (e.g. 'spawn' without the native addon).
   */
  constructor(options?: PoolOptions) {
    const o = checkPoolOptions(options);
    this.#processes = o.processes ?? cpuCount();
    this.#module = o.module;
    this.#startMethod = o.startMethod ?? getStartMethod();
    let init: InitMessage | null = null;
    if (o.initializer !== undefined) {
      const caller = callerModuleUrl(new.target);
      init = { spec: this.#functions.resolve(o.initializer, o.module, () => caller).spec, args: o.initargs };
    }
    this.#engine = new PoolEngine({
      processes: this.#processes,
      startMethod: this.#startMethod,
      maxtasksperchild: o.maxtasksperchild,
      init,
      label: checkLabel(options?.label),
    });
  }

  /** How many workers the pool keeps. */
  get processes(): number {
    return this.#processes;
  }

  get startMethod(): StartMethod {
    return this.#startMethod;
  }

  /** `fn(...args)` in a worker. */
  apply<A extends unknown[], R>(fn: (...args: A) => R, args?: A): Promise<Awaited<R>>;
  apply<R = unknown>(fn: NamedFunction, args?: readonly unknown[]): Promise<R>;
  apply(fn: unknown, args: unknown = []): Promise<unknown> {
    return this.#list(Pool.prototype.apply, fn, () => applySpec(args)).get();
  }

  /** `fn(...args)` in a worker, as an `AsyncResult` (awaitable). */
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    callbacks?: ResultCallbacks<Awaited<R>>,
  ): AsyncResult<Awaited<R>>;
  applyAsync<R = unknown>(
    fn: NamedFunction,
    args?: readonly unknown[],
    callbacks?: ResultCallbacks<R>,
  ): AsyncResult<R>;
  applyAsync(fn: unknown, args: unknown = [], callbacks?: ResultCallbacks<any>): AsyncResult<unknown> {
    return this.#list(Pool.prototype.applyAsync, fn, () => applySpec(args), callbacks);
  }

  /**
   * `fn(item)` for every item, in chunks spread over the workers; resolves with the results in order, or rejects
   * with the first error. The iterable is read whole first (as in Python).
   */
  map<T, R>(fn: (item: T) => R, iterable: Iterable<T>, options?: MapOptions): Promise<Awaited<R>[]>;
  map<R = unknown>(fn: NamedFunction, iterable: Iterable<unknown>, options?: MapOptions): Promise<R[]>;
  map(fn: unknown, iterable: unknown, options?: MapOptions): Promise<unknown> {
    return this.#list(Pool.prototype.map, fn, () => this.#mapSpec(iterable, options, false)).get();
  }

  /** `map` as an `AsyncResult`, with optional `callback` / `errorCallback`. */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    options?: MapAsyncOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>[]>;
  mapAsync<R = unknown>(
    fn: NamedFunction,
    iterable: Iterable<unknown>,
    options?: MapAsyncOptions<R>,
  ): AsyncResult<R[]>;
  mapAsync(fn: unknown, iterable: unknown, options?: MapAsyncOptions<any>): AsyncResult<unknown> {
    return this.#list(Pool.prototype.mapAsync, fn, () => this.#mapSpec(iterable, options, false), options);
  }

  /** `map` where every item is an argument list: `fn(...item)`. */
  starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]>;
  starmap<R = unknown>(
    fn: NamedFunction,
    iterable: Iterable<readonly unknown[]>,
    options?: MapOptions,
  ): Promise<R[]>;
  starmap(fn: unknown, iterable: unknown, options?: MapOptions): Promise<unknown> {
    return this.#list(Pool.prototype.starmap, fn, () => this.#mapSpec(iterable, options, true)).get();
  }

  /** `starmap` as an `AsyncResult`. */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A>,
    options?: MapAsyncOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>[]>;
  starmapAsync<R = unknown>(
    fn: NamedFunction,
    iterable: Iterable<readonly unknown[]>,
    options?: MapAsyncOptions<R>,
  ): AsyncResult<R[]>;
  starmapAsync(fn: unknown, iterable: unknown, options?: MapAsyncOptions<any>): AsyncResult<unknown> {
    return this.#list(Pool.prototype.starmapAsync, fn, () => this.#mapSpec(iterable, options, true), options);
  }

  /**
   * The results of `fn(item)` in order, as they come. Lazy both ways: items are read from the iterable only as
   * workers take them, and only a few chunks (4 per worker) ahead of what the loop has taken, so an endless
   * generator works. An error is thrown at its place and ends the iteration. `break` stops reading the iterable;
   * results being computed are dropped. After `close()` the remaining items are all read and run, as in Python.
   * @default chunksize 1
   */
  imap<T, R>(fn: (item: T) => R, iterable: Iterable<T>, options?: MapOptions): IMapIterator<Awaited<R>>;
  imap<R = unknown>(fn: NamedFunction, iterable: Iterable<unknown>, options?: MapOptions): IMapIterator<R>;
  imap(fn: unknown, iterable: unknown, options?: MapOptions): IMapIterator<unknown> {
    return this.#iter(Pool.prototype.imap, fn, iterable, options, true);
  }

  /** Like `imap`, but yields each chunk's results as soon as it is done, whatever its place. */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    options?: MapOptions,
  ): IMapIterator<Awaited<R>>;
  imapUnordered<R = unknown>(
    fn: NamedFunction,
    iterable: Iterable<unknown>,
    options?: MapOptions,
  ): IMapIterator<R>;
  imapUnordered(fn: unknown, iterable: unknown, options?: MapOptions): IMapIterator<unknown> {
    return this.#iter(Pool.prototype.imapUnordered, fn, iterable, options, false);
  }

  /** Takes no more work; the workers exit once the work already given is done. Python's `close()`. */
  close(): void {
    this.#engine.close();
  }

  /** Ends the workers now; unfinished work fails (`code: 'PROCQ_TERMINATED'`). Python's `terminate()`. */
  terminate(): void {
    this.#engine.terminate();
  }

  /**
   * Waits for every worker to end, after `close()` (then the work is done first) or `terminate()`.
   * Rejects with `ProcessError` while the pool is running, as Python raises `ValueError`.
   */
  join(): Promise<void> {
    try {
      return this.#engine.join();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `await using pool = new Pool()`: terminates and joins at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
    await this.join();
  }

  get [Symbol.toStringTag](): string {
    return 'Pool';
  }

  /** The function's entry; `site` is the public method, to find the module that called it. */
  #entry(fn: unknown, site: Function): FunctionEntry {
    return this.#functions.resolve(fn, this.#module, () => callerModuleUrl(site));
  }

  #list<R>(
    site: Function,
    fn: unknown,
    spec: () => ListSpec,
    callbacks?: ResultCallbacks<R>,
  ): AsyncResult<R> {
    let job: ListJob<R>;
    try {
      this.#engine.checkRunning();
      const entry = this.#entry(fn, site);
      const { items, star, chunksize, single } = spec();
      job = new ListJob<R>(entry, star, items, chunksize, single);
      this.#engine.submit(job);
    } catch (error) {
      job = ListJob.rejected<R>(error);
    }
    return new AsyncResult(job.promise, callbacks ? { ...callbacks } : undefined);
  }

  #mapSpec(iterable: unknown, options: MapOptions | undefined, star: boolean): ListSpec {
    const chosen = checkChunksize(options);
    // The job copies an array (a change to it after the call changes nothing); anything else is read whole now.
    const source = checkIterable(iterable, 'iterable');
    const items = star ? Array.from(source, toArgs) : Array.isArray(source) ? source : Array.from(source);
    const chunksize = chosen ?? Math.max(1, Math.ceil(items.length / (4 * this.#processes)));
    return { items, star, chunksize, single: false };
  }

  #iter(
    site: Function,
    fn: unknown,
    iterable: unknown,
    options: MapOptions | undefined,
    ordered: boolean,
  ): IMapIterator<unknown> {
    try {
      this.#engine.checkRunning();
      const entry = this.#entry(fn, site);
      const source = checkIterable(iterable, 'iterable');
      const chunksize = checkChunksize(options) ?? 1;
      const job = new IterJob<unknown>(entry, source, chunksize, ordered, 4 * this.#processes);
      this.#engine.submit(job);
      return new IMapIterator(job);
    } catch (error) {
      return new IMapIterator(IterJob.rejected(error, ordered));
    }
  }
}

function applySpec(args: unknown): ListSpec {
  return { items: [checkArgs(args, 'args')], star: true, chunksize: 1, single: true };
}

function toArgs(item: unknown, index: number): unknown[] {
  if (Array.isArray(item)) return item;
  try {
    return Array.from(checkIterable(item, `iterable[${index}]`));
  } catch (error) {
    throw new TypeError(
      `Expected every item of a starmap to be an array of arguments, got ${typeof item} at index ${index}`,
      { cause: error },
    );
  }
}
