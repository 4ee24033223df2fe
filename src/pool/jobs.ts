/**
 * Jobs: what one pool call asks for, cut into chunks (one task message each) and put back together.
 *
 * 1. `ListJob`: `map`, `starmap`, `apply` and their `…Async` forms. Every item is known up front; the job settles
 *    once, with every result in order or with the first error.
 * 2. `IterJob`: `imap` and `imapUnordered`. Items are read from the iterable only as chunks are handed out, and
 *    at most `ahead` chunks are read beyond what the consumer has taken (back-pressure), so an endless iterable
 *    works and a slow consumer does not fill memory. `return()` (a `break` out of `for await`) stops it.
 *
 * The engine calls `take()` to get the next chunk (none when the job is exhausted or paused), then `done()` or
 * `failed()` once per chunk it handed out, and `cancel()` when the pool is terminated.
 */
import type { FunctionEntry } from './functions.js';

export interface Chunk {
  /** The chunk's number within its job, from 0. */
  readonly index: number;
  readonly items: unknown[];
}

export abstract class Job {
  /** Set by the engine: asks it to hand out chunks again (a paused job has room now). */
  wake: () => void = () => {};

  constructor(
    readonly fn: FunctionEntry,
    /** `true`: each item is an argument list. */
    readonly star: boolean,
  ) {}

  /** The next chunk to run, or `undefined` when there is none now. `unbounded` lifts back-pressure (close()). */
  abstract take(unbounded: boolean): Chunk | undefined;
  /** `true` once `take()` will never return a chunk again. */
  abstract get exhausted(): boolean;
  /** `values`: a plain array, or the typed array of a number frame (`pack.ts`). */
  abstract done(index: number, values: ArrayLike<unknown>): void;
  abstract failed(index: number, error: unknown): void;
  /** The pool is going away: every chunk not done fails with `error`. */
  abstract cancel(error: unknown): void;
}

/** A function entry for jobs that fail before they run. */
export const NO_FUNCTION: FunctionEntry = Object.freeze({
  id: 0,
  spec: Object.freeze({ moduleUrl: '', exportName: '' }),
});

/**
 * Chunks of at least this many items are cut when the call is made (that is the call's copy of its items); shorter
 * ones from one copy of the items, as they are handed out (a slice per item of a 10M-item `chunksize: 1` call
 * would hold ten times the memory of the copy).
 */
const CUT_EARLY = 64;

export class ListJob<R> extends Job {
  readonly promise: Promise<R>;
  /** Chunks cut early (`CUT_EARLY`), each dropped once handed out; or undefined, and `#items` is a copy. */
  readonly #cut: (unknown[] | undefined)[] | undefined;
  readonly #items: readonly unknown[];
  readonly #length: number;
  readonly #chunksize: number;
  readonly #chunks: number;
  /** The results, each chunk's written in place as it comes in (Python's slice assignment); made at the first. */
  #results: unknown[] | undefined;
  readonly #single: boolean;
  #next = 0;
  #left: number;
  #settled = false;
  #resolve!: (value: R) => void;
  #reject!: (error: unknown) => void;

  /**
   * @param items the call's items, copied here: a change the caller makes to the array afterwards changes nothing
   * @param single resolve with the one result instead of an array (`apply`)
   */
  constructor(
    fn: FunctionEntry,
    star: boolean,
    items: readonly unknown[],
    chunksize: number,
    single = false,
  ) {
    super(fn, star);
    this.promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#length = items.length;
    this.#chunksize = chunksize;
    this.#chunks = Math.ceil(items.length / chunksize);
    if (chunksize >= CUT_EARLY) {
      this.#cut = [];
      for (let start = 0; start < items.length; start += chunksize)
        this.#cut.push(items.slice(start, start + chunksize));
      this.#items = [];
    } else {
      this.#items = items.slice();
    }
    this.#left = this.#chunks;
    this.#single = single;
    if (this.#chunks === 0) this.#settle(true, []);
  }

  static rejected<R>(error: unknown): ListJob<R> {
    const job = new ListJob<R>(NO_FUNCTION, false, [undefined], 1);
    job.failed(0, error);
    return job;
  }

  take(): Chunk | undefined {
    if (this.exhausted) return undefined;
    const index = this.#next++;
    if (this.#cut !== undefined) {
      const items = this.#cut[index]!;
      this.#cut[index] = undefined;
      return { index, items };
    }
    const start = index * this.#chunksize;
    return { index, items: this.#items.slice(start, start + this.#chunksize) };
  }

  get exhausted(): boolean {
    return this.#settled || this.#next >= this.#chunks;
  }

  done(index: number, values: ArrayLike<unknown>): void {
    if (this.#settled) return;
    // Written in place now, while the other chunks are still running: nothing is left to join at the end, and no
    // chunk's results are copied twice. (The array is allocated whole, so V8 counts it as one that may have holes,
    // although it has none once settled: as the arrays node:v8 decodes.)
    const results = (this.#results ??= new Array(this.#length));
    const at = index * this.#chunksize;
    for (let i = 0; i < values.length; i++) results[at + i] = values[i];
    if (--this.#left > 0) return;
    this.#settle(true, this.#single ? results[0] : results);
  }

  /** Any chunk failing fails the whole call (the index does not matter). */
  failed(...[, error]: [index: number, error: unknown]): void {
    if (!this.#settled) this.#settle(false, error);
  }

  cancel(error: unknown): void {
    this.failed(0, error);
  }

  #settle(ok: boolean, value: unknown): void {
    this.#settled = true;
    if (ok) this.#resolve(value as R);
    else this.#reject(value);
  }
}

type Outcome =
  | { readonly ok: true; readonly values: ArrayLike<unknown> }
  | { readonly ok: false; readonly error: unknown };

interface Waiter<R> {
  resolve(result: IteratorResult<R, undefined>): void;
  reject(error: unknown): void;
}

/**
 * `imap` / `imapUnordered`: the results, for an `IMapIterator`. An error (the function threw, or the iterable
 * did) is thrown by `next()` at its place, and ends the iteration, as a throwing async generator does.
 */
export class IterJob<R> extends Job {
  readonly #source: Iterator<unknown> | undefined;
  readonly #chunksize: number;
  readonly #ordered: boolean;
  readonly #ahead: number;
  /** Chunks read from the source. */
  #issued = 0;
  /** Chunks handed to the consumer (ordered: the index of the next one to hand over). */
  #delivered = 0;
  /** Chunks read whose outcome has not come in. */
  readonly #pending = new Set<number>();
  #sourceDone = false;
  /** `return()` was called, or an error was handed over: nothing more is read, run or yielded. */
  #closed = false;
  /** Ordered: outcomes by chunk index. Unordered: outcomes in the order they came in. */
  readonly #byIndex = new Map<number, Outcome>();
  readonly #arrived: Outcome[] = [];
  /** The chunk being yielded, item by item. */
  #values: ArrayLike<unknown> = [];
  #at = 0;
  readonly #waiters: Waiter<R>[] = [];

  /**
   * @param ahead most chunks read from the iterable and not yet taken by the consumer
   */
  constructor(
    fn: FunctionEntry,
    iterable: Iterable<unknown> | undefined,
    chunksize: number,
    ordered: boolean,
    ahead: number,
  ) {
    super(fn, false);
    this.#chunksize = chunksize;
    this.#ordered = ordered;
    this.#ahead = ahead;
    this.#source = iterable?.[Symbol.iterator]();
    if (iterable === undefined) this.#sourceDone = true;
  }

  /** An iterator whose first `next()` rejects with `error`. */
  static rejected<R>(error: unknown, ordered: boolean): IterJob<R> {
    const job = new IterJob<R>(NO_FUNCTION, undefined, 1, ordered, 1);
    job.#outcome(job.#issued++, { ok: false, error });
    return job;
  }

  take(unbounded: boolean): Chunk | undefined {
    if (this.exhausted) return undefined;
    if (!unbounded && this.#issued - this.#delivered >= this.#ahead) return undefined;
    const items: unknown[] = [];
    try {
      while (items.length < this.#chunksize) {
        const step = this.#source!.next();
        if (step.done) {
          this.#sourceDone = true;
          break;
        }
        items.push(step.value);
      }
    } catch (error) {
      // Python's imap raises the iterable's error in the place of the items it was reading.
      this.#sourceDone = true;
      this.#outcome(this.#issued++, { ok: false, error });
      return undefined;
    }
    if (items.length === 0) {
      this.#serve(); // the end may be reached now
      return undefined;
    }
    const index = this.#issued++;
    this.#pending.add(index);
    return { index, items };
  }

  get exhausted(): boolean {
    return this.#closed || this.#sourceDone;
  }

  done(index: number, values: ArrayLike<unknown>): void {
    this.#outcome(index, { ok: true, values });
  }

  failed(index: number, error: unknown): void {
    this.#outcome(index, { ok: false, error });
  }

  cancel(error: unknown): void {
    this.#sourceDone = true;
    for (const index of [...this.#pending]) this.#outcome(index, { ok: false, error });
  }

  next(): Promise<IteratorResult<R, undefined>> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#serve();
    });
  }

  /** Stops the iteration: nothing more is read from the iterable; results still being computed are dropped. */
  return(): Promise<IteratorResult<R, undefined>> {
    this.#close();
    this.#serve();
    return Promise.resolve({ done: true, value: undefined });
  }

  #outcome(index: number, outcome: Outcome): void {
    if (this.#closed) return;
    this.#pending.delete(index);
    if (this.#ordered) this.#byIndex.set(index, outcome);
    else this.#arrived.push(outcome);
    this.#serve();
  }

  #close(): void {
    this.#closed = true;
    this.#values = [];
    this.#byIndex.clear();
    this.#arrived.length = 0;
    this.#pending.clear();
  }

  /** Hands values (or the end, or an error) to the waiting `next()` calls, in order. */
  #serve(): void {
    while (this.#waiters.length > 0) {
      if (this.#at < this.#values.length) {
        this.#waiters.shift()!.resolve({ done: false, value: this.#values[this.#at++] as R });
        continue;
      }
      if (this.#closed) {
        this.#waiters.shift()!.resolve({ done: true, value: undefined });
        continue;
      }
      const outcome = this.#nextOutcome();
      if (outcome === undefined) {
        if (this.#sourceDone && this.#delivered === this.#issued) this.#close();
        else return;
        continue;
      }
      this.#delivered++;
      this.wake();
      if (outcome.ok) {
        this.#values = outcome.values;
        this.#at = 0;
      } else {
        this.#close();
        this.#waiters.shift()!.reject(outcome.error);
      }
    }
  }

  #nextOutcome(): Outcome | undefined {
    if (!this.#ordered) return this.#arrived.shift();
    const outcome = this.#byIndex.get(this.#delivered);
    if (outcome !== undefined) this.#byIndex.delete(this.#delivered);
    return outcome;
  }

  get ordered(): boolean {
    return this.#ordered;
  }
}

/**
 * What `imap` and `imapUnordered` return: an async iterator over the results (the job's consumer side only).
 * `return()` (a `break` out of `for await`) stops reading the iterable; results still being computed are dropped.
 */
export class IMapIterator<R> implements AsyncIterableIterator<R, undefined> {
  readonly #job: IterJob<R>;

  /** @internal */
  constructor(job: IterJob<R>) {
    this.#job = job;
  }

  next(): Promise<IteratorResult<R, undefined>> {
    return this.#job.next();
  }

  return(): Promise<IteratorResult<R, undefined>> {
    return this.#job.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return this.#job.ordered ? 'IMapIterator' : 'IMapUnorderedIterator';
  }
}

/**
 * The jobs that may still hand out chunks, oldest first: an array with a moving head, because `shift()` copies
 * the whole array once it is large (many `applyAsync` calls in flight).
 */
export class JobList {
  /** Slots before `#head` are spent (`undefined`, so that their jobs can be collected). */
  #jobs: (Job | undefined)[] = [];
  #head = 0;

  push(job: Job): void {
    if (this.#head > 1024 && this.#head * 2 > this.#jobs.length) {
      this.#jobs = this.#jobs.slice(this.#head);
      this.#head = 0;
    }
    this.#jobs.push(job);
  }

  /** The next chunk, from the oldest job that has one now; drops the jobs that are exhausted. */
  take(unbounded: boolean): { job: Job; chunk: Chunk } | undefined {
    for (let i = this.#head; i < this.#jobs.length; ) {
      const job = this.#jobs[i]!;
      const chunk = job.take(unbounded);
      if (chunk !== undefined) return { job, chunk };
      if (!job.exhausted) {
        i++; // paused: later jobs go first meanwhile
      } else if (i === this.#head) {
        this.#jobs[i] = undefined;
        i = ++this.#head;
      } else {
        this.#jobs.splice(i, 1); // only behind a paused imap
      }
    }
    return undefined;
  }

  /** Whether a job may still hand out a chunk. */
  hasWork(): boolean {
    for (let i = this.#head; i < this.#jobs.length; i++) if (!this.#jobs[i]!.exhausted) return true;
    return false;
  }

  /** Empties the list; returns the jobs it held. */
  clear(): Job[] {
    const jobs = this.#jobs.slice(this.#head) as Job[];
    this.#jobs = [];
    this.#head = 0;
    return jobs;
  }
}
