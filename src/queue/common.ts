/**
 * What every transport of the queue contract (`contract.ts`) does the same way, written once: the argument checks
 * that are not wait options (`options.ts` has those), deadlines, and the `for await` loop. `Queue` (shared memory)
 * and `RedisQueue` both use these, so a misuse fails the same way and iteration ends the same way on both.
 */
import type { Codec } from '../codec/frames.js';
import { deadlineOf } from '../ring/waiting.js';
import { describe } from './options.js';

/** Absolute `performance.now()` deadline of a wait of `timeoutMs` (Infinity: none). */
export { deadlineOf };

/** `getMany(max)`: a positive integer. */
export function checkMax(max: unknown): number {
  if (typeof max !== 'number')
    throw new TypeError(`Expected \`max\` to be a positive integer, got ${describe(max)}`);
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`Expected \`max\` to be a positive integer, got ${describe(max)}`);
  }
  return max;
}

/** A user codec: an object with `encode()` and `decode()`. */
export function checkCodec(codec: unknown): asserts codec is Codec<unknown> {
  const c = codec as Codec<unknown> | null | undefined;
  if (typeof c?.encode !== 'function' || typeof c?.decode !== 'function') {
    throw new TypeError(
      `Expected \`codec\` to be an object with encode() and decode(), got ${describe(codec)}`,
    );
  }
}

/** `for await (const item of q)`: yields what `get()` gives until it throws `ShutDown` (shut down and drained). */
export async function* itemsUntilShutDown<T>(get: () => Promise<T>): AsyncGenerator<T, void, undefined> {
  for (;;) {
    let item: T;
    try {
      item = await get();
    } catch (err) {
      if ((err as { code?: string })?.code === 'PROCQ_SHUTDOWN') return;
      throw err;
    }
    yield item;
  }
}

/** `putMany(items)`: anything iterable (an array, a Set, a generator). */
export function checkIterable<T>(items: unknown): Iterable<T> {
  if (typeof (items as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`Expected \`items\` to be an iterable, got ${describe(items)}`);
  }
  return items as Iterable<T>;
}
