/**
 * Every error procq throws, in one place (crossbeam's `err.rs`, CPython's `queue.Empty` / `queue.Full`).
 *
 * Three tiers:
 * - misuse (a wrong argument) is a plain `TypeError` / `RangeError` whose message says what was expected and
 *   what came;
 * - expected outcomes are the typed errors below, each with a stable `code`;
 * - a broken internal invariant is an {@link InvariantError}, never compiled out.
 *
 * The Redis transport throws the same classes, so `catch (e) { if (e instanceof Empty) … }` works everywhere.
 */

/** Base class of procq's expected outcomes. */
export class ProcqError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A `get` found nothing: `block: false`, `getNowait()`, or the timeout passed. Python's `queue.Empty`. */
export class Empty extends ProcqError {
  constructor(message = 'the queue is empty', options?: ErrorOptions) {
    super(message, 'PROCQ_EMPTY', options);
  }
}

/** A `put` found no room: `block: false`, `putNowait()`, or the timeout passed. Python's `queue.Full`. */
export class Full extends ProcqError {
  constructor(message = 'the queue is full', options?: ErrorOptions) {
    super(message, 'PROCQ_FULL', options);
  }
}

/** The queue was shut down (`shutdown()`): puts fail at once, gets fail once it is drained. Python 3.13's `queue.ShutDown`. */
export class ShutDown extends ProcqError {
  constructor(message = 'the queue has been shut down', options?: ErrorOptions) {
    super(message, 'PROCQ_SHUTDOWN', options);
  }
}

/** The object was closed with `close()` in this process or thread, and cannot be used here any more. */
export class ClosedError extends ProcqError {
  constructor(what = 'queue', options?: ErrorOptions) {
    super(`the ${what} is closed in this process: it cannot be used after close()`, 'PROCQ_CLOSED', options);
  }
}

/** A wait passed its timeout where no more specific error applies (locks, `join`, `poll`). */
export class TimeoutError extends ProcqError {
  constructor(message = 'the operation timed out', options?: ErrorOptions) {
    super(message, 'PROCQ_TIMEOUT', options);
  }
}

/** The other end of a `Pipe` is closed and nothing is left to read. Python's `EOFError`. */
export class EOFError extends ProcqError {
  constructor(message = 'the other end of the pipe is closed', options?: ErrorOptions) {
    super(message, 'PROCQ_EOF', options);
  }
}

/** A `Process` could not be started or ran into trouble (unresolvable target, missing native build, …). */
export class ProcessError extends ProcqError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'PROCQ_PROCESS', options);
  }
}

/** The native addon is missing or broken; thread mode keeps working. */
export class NativeUnavailableError extends ProcqError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'PROCQ_NATIVE_UNAVAILABLE', options);
  }
}

/**
 * A broken internal invariant: a bug in procq (or memory corrupted from outside). Never compiled out.
 * When a queue's shared memory breaks its layout, `queue` names the queue (its segment), and the queue is marked
 * broken for every process: each later call on it fails with the same error.
 */
export class InvariantError extends Error {
  readonly code = 'PROCQ_INVARIANT';
  /** The queue (shared-memory segment name) whose memory broke the layout, when it is a queue. */
  readonly queue: string | undefined;
  constructor(message: string, options?: ErrorOptions & { queue?: string }) {
    super(`procq internal invariant broken: ${message}`, options);
    this.name = 'InvariantError';
    this.queue = options?.queue;
  }
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** The error an aborted call rejects with, shaped as Node's own (`name: 'AbortError'`, `code: 'ABORT_ERR'`). */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super(message, options);
    this.name = 'AbortError';
  }
}

export function abortErrorFrom(signal: AbortSignal): AbortError {
  return new AbortError('The operation was aborted', { cause: signal.reason });
}

/** Async forms never throw synchronously: every error, argument errors included, comes as a rejected Promise. */
export function rejecting<R>(fn: () => Promise<R>): Promise<R> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}
