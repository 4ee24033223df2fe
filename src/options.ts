/**
 * The argument checks every layer shares (queue, pipe, sync, pool, process, Redis), in one module below them all,
 * so a misuse fails the same way everywhere: a `TypeError` for a wrong type, a `RangeError` for a value out of
 * range, with a message that says what was expected and what came (`describe`).
 *
 * Timeouts, one rule everywhere (Python's `multiprocessing`, where a negative timeout is a wait of zero:
 * `Queue.get(timeout=-1)` raises `Empty` at once, `Connection.poll(-1)` and `Process.join(-1)` return at once):
 * - `undefined`, `null` or `Infinity`: wait as long as it takes;
 * - a number of milliseconds `>= 0`: wait up to that long;
 * - a negative number: the same as 0, look once and do not wait;
 * - `NaN` or a non-number: `RangeError` / `TypeError`.
 */

/** How a value is shown in an error message: its value and type for primitives, its class for objects. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return `\`${JSON.stringify(v)}\` (string)`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return `\`${String(v)}\` (${typeof v})`;
  if (v === null) return '`null`';
  if (v === undefined) return '`undefined`';
  if (typeof v === 'function') return 'function';
  return `${typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v}`;
}

/** A timeout in milliseconds: `Infinity` for "forever", 0 for a negative one (see the module comment). */
export function checkTimeout(timeout: unknown): number {
  if (timeout === undefined || timeout === null) return Number.POSITIVE_INFINITY;
  if (typeof timeout !== 'number') {
    throw new TypeError(`Expected \`timeout\` to be a number of milliseconds, got ${describe(timeout)}`);
  }
  if (Number.isNaN(timeout)) {
    throw new RangeError(`Expected \`timeout\` to be a number of milliseconds, got ${describe(timeout)}`);
  }
  return timeout < 0 ? 0 : timeout;
}

export function checkSignal(signal: unknown, allowSignal: boolean): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!allowSignal) throw new TypeError('`signal` is only accepted by the async forms');
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/** Validated wait options: `timeoutMs` is Infinity for "forever", 0 for `block: false`. */
export interface WaitSpec {
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

const WAIT_FOREVER: WaitSpec = Object.freeze({ timeoutMs: Number.POSITIVE_INFINITY, signal: undefined });

/** Reads `{ block, timeout, signal }` (put, get, acquire): with `block: false`, `timeout` is ignored (Python). */
export function checkWaitOptions(opts: unknown, allowSignal: boolean): WaitSpec {
  if (opts === undefined || opts === null) return WAIT_FOREVER;
  if (typeof opts !== 'object') throw new TypeError(`Expected an options object, got ${describe(opts)}`);
  const { block, timeout, signal } = opts as { block?: unknown; timeout?: unknown; signal?: unknown };
  if (block !== undefined && typeof block !== 'boolean') {
    throw new TypeError(`Expected \`block\` to be a boolean, got ${describe(block)}`);
  }
  const t = checkTimeout(timeout);
  const s = checkSignal(signal, allowSignal);
  return { timeoutMs: block === false ? 0 : t, signal: s };
}

/**
 * Reads the argument of a wait that takes a timeout: a number of milliseconds (Python's positional `timeout`),
 * `null`/`undefined` (forever), or `{ timeout, signal }`.
 */
export function checkWaitArg(arg: unknown, allowSignal: boolean): WaitSpec {
  if (arg === undefined || arg === null || typeof arg === 'number') {
    return { timeoutMs: checkTimeout(arg), signal: undefined };
  }
  if (typeof arg !== 'object') {
    throw new TypeError(`Expected a timeout in milliseconds or an options object, got ${describe(arg)}`);
  }
  const { timeout, signal } = arg as { timeout?: unknown; signal?: unknown };
  return { timeoutMs: checkTimeout(timeout), signal: checkSignal(signal, allowSignal) };
}

/** A queue's `maxsize`: an integer up to 2^31 - 1; `<= 0` (or omitted) means no bound. */
export function checkMaxsize(maxsize: unknown): number {
  if (maxsize === undefined) return 0;
  if (typeof maxsize !== 'number')
    throw new TypeError(`Expected \`maxsize\` to be an integer, got ${describe(maxsize)}`);
  if (!Number.isInteger(maxsize) || maxsize > 0x7fffffff) {
    throw new RangeError(
      `Expected \`maxsize\` to be an integer up to 2147483647 (<= 0: no bound), got ${describe(maxsize)}`,
    );
  }
  return maxsize;
}

export function checkPositiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`${what}\` to be an integer from 1 and up, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Expected \`${what}\` to be an integer from 1 and up, got ${describe(value)}`);
  }
  return value;
}

/** An options argument: `undefined` or an object (not `null`). */
export function checkOptionsObject<O extends object>(options: unknown): O | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  return options as O;
}
