/**
 * The options of `Pool` and its calls, documented and validated in one place. Misuse fails with a `TypeError`
 * (wrong type) or `RangeError` (out of range) whose message says what was expected and what came.
 */
import { checkPositiveInteger, describe } from '../options.js';
import type { StartMethod } from '../process/current.js';
import { checkStartMethod } from '../process/start-method.js';
import type { PoolFunction } from './functions.js';

export interface PoolOptions {
  /** How many workers. @default cpuCount() (also for `null`, Python's `None`) */
  processes?: number | null;
  /**
   * How workers start: worker threads or OS processes. @default the current default (`setStartMethod`, else
   * `PROCQ_START_METHOD`, else 'forkserver' on Linux and 'spawn' elsewhere)
   */
  startMethod?: StartMethod;
  /**
   * Run once in each worker before its first task, with `initargs` (cloned; procq handles arrive attached).
   * A function exported from an ES module, as for tasks. If it throws, the pool is broken: it is terminated and
   * every call rejects with a `ProcessError` carrying the worker's error.
   */
  initializer?: PoolFunction;
  /** @default [] */
  initargs?: readonly unknown[];
  /**
   * Tasks (chunks) a worker runs before it exits and a fresh worker takes its place, to release what it holds.
   * @default undefined (or `null`): workers live as long as the pool
   */
  maxtasksperchild?: number | null;
  /** The module (a path or `file:` URL) whose exports functions given by name (a string) are. */
  module?: string | URL;
  /** A name for people: the pool's queues are listed by `procq ls` as `<label>.results` and `<label>.inbox`. */
  label?: string;
}

export interface MapOptions {
  /**
   * Items per task sent to a worker. Bigger chunks cost fewer messages; smaller ones balance better.
   * @default map/starmap: Python's rule, ceil(items / (4 × processes)); imap/imapUnordered: 1
   */
  chunksize?: number;
}

export { checkPositiveInteger };

export interface CheckedPoolOptions {
  readonly processes: number | undefined;
  readonly startMethod: StartMethod | undefined;
  readonly initializer: PoolFunction | undefined;
  readonly initargs: readonly unknown[];
  readonly maxtasksperchild: number | undefined;
  readonly module: string | URL | undefined;
}

export function checkPoolOptions(options: unknown): CheckedPoolOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const o = options as PoolOptions;
  if (o.initargs !== undefined && !Array.isArray(o.initargs)) {
    throw new TypeError(`Expected \`initargs\` to be an array, got ${describe(o.initargs)}`);
  }
  if (o.module !== undefined && typeof o.module !== 'string' && !(o.module instanceof URL)) {
    throw new TypeError(`Expected \`module\` to be a path or a file: URL, got ${describe(o.module)}`);
  }
  return {
    processes: o.processes == null ? undefined : checkPositiveInteger(o.processes, 'processes'),
    startMethod: o.startMethod === undefined ? undefined : checkStartMethod(o.startMethod),
    initializer: o.initializer ?? undefined,
    initargs: o.initargs ?? [],
    maxtasksperchild:
      o.maxtasksperchild == null ? undefined : checkPositiveInteger(o.maxtasksperchild, 'maxtasksperchild'),
    module: o.module,
  };
}

/** The `chunksize` option, or `undefined` when not given. */
export function checkChunksize(options: unknown): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const { chunksize } = options as MapOptions;
  return chunksize === undefined ? undefined : checkPositiveInteger(chunksize, 'chunksize');
}

export function checkIterable(value: unknown, what: string): Iterable<unknown> {
  if (typeof (value as Iterable<unknown> | null | undefined)?.[Symbol.iterator] !== 'function') {
    throw new TypeError(
      `Expected \`${what}\` to be an iterable (an array, a Set, a generator …), got ${describe(value)}`,
    );
  }
  return value as Iterable<unknown>;
}

export function checkArgs(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value))
    throw new TypeError(`Expected \`${what}\` to be an array of arguments, got ${describe(value)}`);
  return value;
}
