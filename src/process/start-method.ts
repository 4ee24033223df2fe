/** The default start method (Python's `set_start_method` / `get_start_method`). */
import type { StartMethod } from './current.js';
import { forkserverReady, keepWarm, MAX_FORKSERVER_WARM, stopForkserver } from './popen-forkserver.js';

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
  if (chosen === 'forkserver') keepWarm();
}

/** The start method a `Process` created now without `startMethod` will use. */
export function getStartMethod(): StartMethod {
  if (chosen !== undefined) return chosen;
  const env = process.env.PROCQ_START_METHOD;
  return env === 'thread' || env === 'spawn' || env === 'forkserver' ? env : DEFAULT_START_METHOD;
}

/**
 * Has `count` warm interpreters ready for `startMethod: 'forkserver'` starts, and keeps that many ready from then
 * on: the next `count` starts (one after another or at once: a job farm, a `Pool` of `count` workers) each find
 * one, so start to first item is a few milliseconds for each, instead of a whole Node start-up for all but the
 * first. Resolves once they are ready. A one-time call at a program's start, where CPython would call
 * `set_forkserver_preload`; the idle ones cost about 40 MB of memory each and no CPU, and end with this process.
 * `warmForkserver(0)` ends the idle ones now (the default one comes back on the next forkserver start).
 *
 * A warm interpreter takes on the environment and working directory of the moment of `start()`, not of this call.
 *
 * @param count How many to keep ready, from 0 to `MAX_FORKSERVER_WARM` (the larger of 4 and the core count,
 *   at most 16). @default 1
 * @param options.signal Stops the wait (rejects with an `AbortError`); the interpreters still come up.
 * @param options.practise Each interpreter runs procq's queue paths (every form, on a private in-memory queue)
 *   until V8 has optimized them, before it is ready: a started child's items then run optimized code from the
 *   first (a 2x2 job farm of 100k job objects: 0.78 s -> 0.3 s), at the price of ~8 ms more from `start()` to the
 *   target's first line. `false` for processes that do little each (the warm process kept by default does not
 *   practise). @default true
 *
 * Abort safety: nothing is lost; the interpreters already asked for keep warming and are used by later starts.
 */
export async function warmForkserver(
  count = 1,
  options: { signal?: AbortSignal; practise?: boolean } = {},
): Promise<void> {
  if (!Number.isInteger(count) || count < 0 || count > MAX_FORKSERVER_WARM) {
    throw new RangeError(
      `Expected \`count\` to be an integer from 0 to ${MAX_FORKSERVER_WARM}, got ${String(count)} (${typeof count})`,
    );
  }
  const practise = options.practise ?? true;
  if (typeof practise !== 'boolean') {
    throw new TypeError(
      `Expected \`practise\` to be a boolean, got ${String(practise)} (${typeof practise})`,
    );
  }
  if (count === 0) return stopForkserver();
  return forkserverReady(count, options.signal, practise);
}
