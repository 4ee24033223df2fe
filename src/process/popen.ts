/**
 * One interface over the ways of starting a child (CPython's `popen_*.py`):
 * - `popen-thread.ts`: a worker thread of this process (`startMethod: 'thread'`);
 * - `popen-spawn.ts`: a fresh OS process running Node (`startMethod: 'spawn'`);
 * - `popen-forkserver.ts`: a warm OS process started ahead of time (`startMethod: 'forkserver'`).
 *
 * Each starts its child in its constructor and reports the exit code with Python's conventions (`-N` for signal
 * N), and only after the child's output has reached this process's stdout and stderr.
 */

import type { Wire } from '../codec/index.js';
import type { ChildSpec } from './child.js';

export interface Popen {
  /** The OS process id running the child (this process's own pid for a thread). */
  readonly pid: number;
  /** The worker's thread id (thread mode only). */
  readonly threadId: number | undefined;
  /** `null` until the child has ended and its output has been flushed. */
  readonly exitCode: number | null;
  /** Resolves with the exit code once `exitCode` is set. Never rejects. */
  readonly exited: Promise<number>;
  /** Asks the child to end (SIGTERM; a thread is stopped and reports -15). No-op once ended. */
  terminate(): void;
  /** Ends the child at once (SIGKILL; a thread is stopped and reports -9). No-op once ended. */
  kill(): void;
  /** Lets this process exit while the child runs (daemon children). */
  unref(): void;
}

export interface PopenOptions {
  readonly spec: ChildSpec;
  readonly args: Wire;
}

/** Extension (`.js` or `.ts`) of this module, so bootstraps load as the same kind of file as we were loaded. */
export const moduleExt = /\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] ?? '.js';

/** A module of this folder, with this module's extension. */
export function siblingUrl(base: string): URL {
  return new URL(`./${base}${moduleExt}`, import.meta.url);
}
