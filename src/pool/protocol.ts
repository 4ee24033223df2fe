/**
 * The messages between a pool and its workers, and how an error crosses from a worker to the pool.
 *
 * Every worker has its own inbox (a `Queue` the pool puts task messages on, one reader: that worker); all workers
 * share one result queue (many writers, one reader: the pool). Messages are plain objects, cloned like queue items.
 *
 * ```
 * pool ──TaskMessage──▶ inbox[i] ──▶ worker i ──ResultMessage──▶ results ──▶ pool
 *      ──null (stop)──▶
 * ```
 *
 * A message whose items or values are a big array of primitives travels packed (`pack.ts`).
 */
import type { TargetSpec } from '../process/target.js';

/** Where a worker finds a function: the same spec `Process` uses for its target. */
export type FunctionSpec = TargetSpec;

/** One chunk of work: call function `fn` once per item. */
export interface TaskMessage {
  /** Unique within the pool; the result message repeats it. */
  readonly id: number;
  /** The pool's number for the function; `spec` comes with the first task a worker gets for that number. */
  readonly fn: number;
  readonly spec?: FunctionSpec;
  /** `true`: each item is an argument list (`fn(...item)`); `false`: `fn(item)`. */
  readonly star: boolean;
  /** The items; numbers arrive as a typed array (a number frame, `pack.ts`). */
  readonly items: ArrayLike<unknown>;
}

/** What an inbox carries: task messages, maybe packed (`pack.ts`), and `null`, the stop message. */
export type TaskWire = TaskMessage | Uint8Array | null;

/** What the result queue carries: result messages, maybe packed (`pack.ts`). */
export type ResultWire = ResultMessage | Uint8Array;

/** What a worker runs once before its first task (Python's `initializer(*initargs)`). */
export interface InitMessage {
  readonly spec: FunctionSpec;
  readonly args: readonly unknown[];
}

export type ResultMessage =
  /** The worker has run its initializer and reads its inbox now. */
  | { readonly kind: 'ready'; readonly worker: number }
  /** Task `id` returned; `values[i]` is the (awaited) result for `items[i]` (numbers: a typed array, `pack.ts`). */
  | {
      readonly kind: 'done';
      readonly worker: number;
      readonly id: number;
      readonly values: ArrayLike<unknown>;
    }
  /** Task `id` threw (on any of its items), or its function could not be found, or its results could not be sent. */
  | { readonly kind: 'failed'; readonly worker: number; readonly id: number; readonly error: PackedError }
  /** The initializer threw: the worker has ended. */
  | { readonly kind: 'init-failed'; readonly worker: number; readonly error: PackedError };

/**
 * A thrown value, made cloneable. Structured clone keeps an error's message and stack but drops its own
 * properties (`code`, …) and any class name it does not know, so errors travel as this description instead.
 */
export type PackedError =
  | {
      readonly error: true;
      readonly name: string;
      readonly message: string;
      readonly stack: string | undefined;
      /** Own enumerable properties that clone (`code`, `errno`, …). */
      readonly props: Record<string, unknown>;
      readonly cause?: PackedError;
    }
  | { readonly error: false; readonly value: unknown };

function clones(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

export function packError(thrown: unknown, depth = 0): PackedError {
  if (!(thrown instanceof Error)) {
    return { error: false, value: clones(thrown) ? thrown : String(thrown) };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (key !== 'cause' && clones(value)) props[key] = value;
  }
  const packed = {
    error: true as const,
    name: String(thrown.name),
    message: String(thrown.message),
    stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
    props,
  };
  return thrown.cause !== undefined && depth < 4
    ? { ...packed, cause: packError(thrown.cause, depth + 1) }
    : packed;
}

const BUILTIN_ERRORS: Record<string, new (message: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * The error the pool rejects with: of the worker's built-in class when it had one (else `Error`), with the
 * worker's `name`, `message`, own properties, `cause`, and `stack` (so the stack shows where in the worker it was
 * thrown). A thrown non-error value comes back as itself.
 */
export function unpackError(packed: PackedError): unknown {
  if (!packed.error) return packed.value;
  const Ctor = Object.hasOwn(BUILTIN_ERRORS, packed.name) ? BUILTIN_ERRORS[packed.name]! : Error;
  const error = new Ctor(packed.message);
  if (error.name !== packed.name) {
    Object.defineProperty(error, 'name', { value: packed.name, writable: true, configurable: true });
  }
  Object.assign(error, packed.props);
  if (packed.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: unpackError(packed.cause),
      writable: true,
      configurable: true,
    });
  }
  error.stack = packed.stack ?? `${packed.name}: ${packed.message}`;
  return error;
}
