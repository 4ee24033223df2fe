/** The default start method (Python's `set_start_method` / `get_start_method`). */
import type { StartMethod } from './current.js';

export const START_METHODS: readonly StartMethod[] = ['spawn', 'thread'];

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
 * Sets the start method used by every `Process` created without `startMethod`. The environment variable
 * `PROCQ_START_METHOD` gives the initial default; without it the default is `'spawn'`.
 */
export function setStartMethod(method: StartMethod): void {
  chosen = checkStartMethod(method, 'method');
}

/** The start method a `Process` created now without `startMethod` will use. */
export function getStartMethod(): StartMethod {
  if (chosen !== undefined) return chosen;
  const env = process.env.PROCQ_START_METHOD;
  return env === 'thread' || env === 'spawn' ? env : 'spawn';
}
