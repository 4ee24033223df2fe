/** The default start method (Python's `set_start_method` / `get_start_method`). */
import type { StartMethod } from './current.js';
import { warmForkserver } from './popen-forkserver.js';

export const START_METHODS: readonly StartMethod[] = ['spawn', 'forkserver', 'thread'];

/**
 * The default without `setStartMethod()` or `PROCQ_START_METHOD`: `'forkserver'` on Linux (Python 3.14 made its
 * forkserver the default there), `'spawn'` elsewhere. Both start real OS processes; a forkserver start hands the
 * child to a warm Node process that already runs (popen-forkserver.ts).
 */
export const DEFAULT_START_METHOD: StartMethod = process.platform === 'linux' ? 'forkserver' : 'spawn';

let chosen: StartMethod | undefined;

export function checkStartMethod(method: unknown, what = 'startMethod'): StartMethod {
  if (typeof method === 'string' && (START_METHODS as readonly string[]).includes(method)) {
    return method as StartMethod;
  }
  throw new TypeError(
    `Expected \`${what}\` to be one of ${START_METHODS.map((m) => `'${m}'`).join(', ')}, got ${typeof method === 'string' ? `'${method}'` : String(method)} (${typeof method})`,
  );
}

/**
 * Sets the start method used by every `Process` (and `Pool`) created without `startMethod`. The environment
 * variable `PROCQ_START_METHOD` gives the initial default; without it the default is `'forkserver'` on Linux and
 * `'spawn'` elsewhere (`DEFAULT_START_METHOD`).
 *
 * `'forkserver'` starts its first warm interpreter now, so the first `start()` already finds one ready; warm
 * interpreters are Node processes started ahead of time, which take on this process's environment and working
 * directory of the moment of `start()` (as a spawned child has them).
 */
export function setStartMethod(method: StartMethod): void {
  chosen = checkStartMethod(method, 'method');
  if (chosen === 'forkserver') warmForkserver();
}

/** The start method a `Process` created now without `startMethod` will use. */
export function getStartMethod(): StartMethod {
  if (chosen !== undefined) return chosen;
  const env = process.env.PROCQ_START_METHOD;
  return env === 'thread' || env === 'spawn' || env === 'forkserver' ? env : DEFAULT_START_METHOD;
}
