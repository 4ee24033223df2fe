/**
 * `AsyncResult<T>`: what `applyAsync`, `mapAsync` and `starmapAsync` return (Python's `AsyncResult`).
 *
 * It is also a thenable, so `await pool.applyAsync(f, [x])` gives the value.
 */
import { ProcqError, TimeoutError } from '../errors.js';
import { checkTimeout } from '../options.js';

export interface ResultCallbacks<T> {
  /** Called with the value when the work succeeds, before `get()` resolves. */
  callback?: (value: T) => void;
  /** Called with the error when the work fails, before `get()` rejects. */
  errorCallback?: (error: unknown) => void;
}

export class AsyncResult<T> implements PromiseLike<T> {
  readonly #promise: Promise<T>;
  #state: 'pending' | 'fulfilled' | 'rejected' = 'pending';

  /** @internal */
  constructor(promise: Promise<T>, callbacks: ResultCallbacks<T> = {}) {
    this.#promise = promise;
    // Also keeps a failure nobody asks for from becoming an unhandled rejection (Python drops it silently too).
    // A callback that throws is reported as an unhandled rejection.
    void promise.then(
      (value) => {
        this.#state = 'fulfilled';
        callbacks.callback?.(value);
      },
      (error) => {
        this.#state = 'rejected';
        callbacks.errorCallback?.(error);
      },
    );
  }

  /**
   * The value, once the work is done; rejects with the work's error, or with `TimeoutError` when `timeout` ms pass
   * first (the work goes on: ask again later).
   */
  get(timeout?: number): Promise<T> {
    try {
      const ms = checkTimeout(timeout);
      if (ms === Number.POSITIVE_INFINITY || this.#state !== 'pending') return this.#promise;
      return this.#race(ms, () => new TimeoutError(`the result was not ready within ${ms} ms`));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Resolves when the work is done (either way) or `timeout` ms have passed (a negative timeout is 0); never
   * rejects for the work's error.
   */
  wait(timeout?: number): Promise<void> {
    try {
      const ms = checkTimeout(timeout);
      const done = this.#promise.then(
        () => {},
        () => {},
      );
      if (ms === Number.POSITIVE_INFINITY || this.#state !== 'pending') return done;
      return this.#race(ms, undefined).then(
        () => {},
        () => {},
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Whether the work is done. */
  ready(): boolean {
    return this.#state !== 'pending';
  }

  /** Whether the work is done without error. Throws when it is not done yet (Python's `ValueError`). */
  successful(): boolean {
    if (this.#state === 'pending') {
      throw new ProcqError(
        'the result is not ready yet: check ready() or await wait() first',
        'PROCQ_NOT_READY',
      );
    }
    return this.#state === 'fulfilled';
  }

  // biome-ignore lint/suspicious/noThenProperty: an AsyncResult is awaitable on purpose
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  #race(ms: number, timeoutError: (() => Error) | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => (timeoutError ? reject(timeoutError()) : resolve(undefined as T)), ms);
      this.#promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  get [Symbol.toStringTag](): string {
    return 'AsyncResult';
  }
}
