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

/**
 * `/dev/shm` (the RAM behind shared memory) has no room for what a call needed: `size` bytes. Thrown by the call
 * that asked (a `put` whose item needed a new block of the queue, or a ring that had to grow); nothing was put,
 * and the queue is unchanged and usable.
 */
export class SharedMemoryFull extends ProcqError {
  /** The bytes asked for. */
  readonly size: number;
  constructor(message: string, size: number, options?: ErrorOptions) {
    super(message, 'PROCQ_SHM_FULL', options);
    this.size = size;
  }
}

/** The other end of a `Pipe` is closed and nothing is left to read. Python's `EOFError`. */
export class EOFError extends ProcqError {
  constructor(message = 'the other end of the pipe is closed', options?: ErrorOptions) {
    super(message, 'PROCQ_EOF', options);
  }
}

/** The other end of a `Pipe` is closed: a `send` cannot be delivered. Python's `BrokenPipeError`. */
export class BrokenPipeError extends ProcqError {
  constructor(message = 'the other end of the pipe is closed', options?: ErrorOptions) {
    super(message, 'PROCQ_BROKEN_PIPE', options);
  }
}

/** The barrier is broken (timeout, `abort()`, a throwing action) or was reset while waiting. Python's. */
export class BrokenBarrierError extends ProcqError {
  constructor(message = 'the barrier is broken', options?: ErrorOptions) {
    super(message, 'PROCQ_BROKEN_BARRIER', options);
  }
}

/**
 * A lock-state misuse: releasing an `RLock` this thread does not own, or `wait`/`notify` on a `Condition` whose
 * lock is not held. Python raises `RuntimeError` / `AssertionError` there.
 */
export class NotOwnerError extends ProcqError {
  constructor(message = 'this thread does not own the lock', options?: ErrorOptions) {
    super(message, 'PROCQ_NOT_OWNER', options);
  }
}

/** A Redis queue's keys were deleted (`destroy()`) while this client used it. */
export class QueueGoneError extends ProcqError {
  constructor(name: string, options?: ErrorOptions) {
    super(`the Redis queue "${name}" does not exist any more (destroyed?)`, 'PROCQ_REDIS_GONE', options);
  }
}

/**
 * The connection to Redis failed or dropped while a command was in flight (not a refusal by the server). Whether
 * that command ran is unknown: a put may have put its item, a get (without reliable delivery) may have taken one.
 * ioredis reconnects on its own; the next call goes through once the server is reachable again.
 */
export class RedisConnectionError extends ProcqError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'PROCQ_REDIS_CONNECTION', options);
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

/**
 * The challenge-response of a `Listener`/`Client` (or a manager) failed: the two sides hold different `authkey`s, or
 * the peer does not speak the protocol. Thrown on both sides. Python's `multiprocessing.AuthenticationError`.
 */
export class AuthenticationError extends ProcqError {
  constructor(message = 'authentication failed', options?: ErrorOptions) {
    super(message, 'PROCQ_AUTHENTICATION', options);
  }
}

/**
 * A manager's server cannot be reached (it was shut down, or its process died) or went away during a call: the
 * proxy call fails with this instead of waiting forever. Python raises `EOFError` or `ConnectionRefusedError` here.
 */
export class ManagerGoneError extends ProcqError {
  constructor(message = 'the manager is gone (shut down, or its process died)', options?: ErrorOptions) {
    super(message, 'PROCQ_MANAGER_GONE', options);
  }
}

/**
 * A manager's server ran the method and it threw: `cause` holds the error as the server raised it (its class
 * when it is one procq knows). Python re-raises the server's exception in the caller through `RemoteError` for
 * failures outside the method, and the exception itself for the method's own.
 */
export class RemoteError extends ProcqError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'PROCQ_REMOTE', options);
  }
}
