/**
 * The options of `connectQueue`, documented and validated in one place. The options of each call (`put`, `get`,
 * …) are the shared-memory `Queue`'s (`../queue/options.ts`), validated by the same functions, so a misuse fails
 * the same way on both transports.
 */
import type { RedisOptions } from 'ioredis';
import type { Codec } from '../codec/frames.js';
import { checkCodec } from '../queue/common.js';
import { checkMaxsize, describe } from '../queue/options.js';

export interface RedisQueueOptions<T = unknown> {
  /**
   * Most items the queue holds (`<= 0`: no bound). Fixed when the queue is created in Redis; a client that
   * connects to an existing queue adopts its bound when this is omitted, and fails when it differs.
   * @default the existing queue's, else 0
   */
  maxsize?: number;
  /**
   * How items are stored. Omitted: procq's encoding (everything structured clone takes, lone surrogates
   * included; only procq reads it). `'json'`: each element is the item's JSON text, which `redis-cli`, Python, Go
   * and any other client read and write (see docs/REDIS.md); items are then JSON values. An object with
   * `encode`/`decode`: your codec (it is code, so a queue with one cannot be passed to another thread or process).
   * Fixed when the queue is created: a client asking for another kind fails to connect.
   * @default procq's encoding
   */
  codec?: Codec<T> | 'json';
  /** Prefix of the queue's keys: the keys are `<prefix>{<name>}:…`. @default 'procq:' */
  prefix?: string;
  /**
   * Reliable delivery (at least once): a get moves the item into this consumer's processing list (`BLMOVE`) instead of popping
   * it, and it stays there until acknowledged (`ack()`, or `taskDone()` on a joinable queue). When a consumer
   * stops without acknowledging (crash, `kill -9`, lost network) its heartbeat key expires and any reliable
   * client of the queue puts those items back at the head of the queue (at its next heartbeat, or at once with
   * `recover()`). Delivery is then at least once: an item whose consumer died after processing it but before
   * acknowledging it is delivered again. `close()` gives back what this consumer has not acknowledged.
   * Redelivery happens within `heartbeatMs` plus a third of it after the consumer stopped, while any reliable
   * client of the queue runs (default: 13.3 s).
   * @default true for a `RedisJoinableQueue` (its tasks survive a dead worker), false for a `RedisQueue` (at most
   * once, as Python's `Queue`)
   */
  reliable?: boolean;
  /** This consumer's id (reliable delivery): a restarted consumer given the same id takes its list back. */
  consumerId?: string;
  /**
   * Reliable delivery: the heartbeat key lives this long (ms) and is refreshed every third of it; a consumer is
   * deemed dead this long after its last refresh, and its unacknowledged items are delivered again at most a
   * third of this later. This bounds redelivery; lower it for short jobs, raise it for long event-loop stalls.
   * @default 10000
   */
  heartbeatMs?: number;
  /**
   * Longest single blocking command (ms). Waits longer than this are cut into slices, and the client looks again
   * between slices, so a client that crashed between a take and the wake-up it owed delays others by one slice
   * at most. @default 10000
   */
  sliceMs?: number;
  /** Options for the ioredis connections (`keyPrefix` is not supported: use `prefix`). */
  redis?: RedisOptions;
}

export interface CheckedOptions<T> {
  maxsize: number | undefined;
  codec: Codec<T> | 'json' | undefined;
  prefix: string;
  /** undefined: the default of the queue kind (see `RedisQueueOptions.reliable`). */
  reliable: boolean | undefined;
  consumerId: string | undefined;
  heartbeatMs: number;
  sliceMs: number;
  redis: RedisOptions;
}

function checkPositiveMs(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number')
    throw new TypeError(`Expected \`${name}\` to be a number of milliseconds, got ${describe(v)}`);
  if (!Number.isFinite(v) || v < 10) {
    throw new RangeError(
      `Expected \`${name}\` to be a finite number of milliseconds >= 10, got ${describe(v)}`,
    );
  }
  return v;
}

function checkString(name: string, v: unknown, what: string): void {
  if (typeof v !== 'string') throw new TypeError(`Expected \`${name}\` to be ${what}, got ${describe(v)}`);
  if (v === '' || /[{}]/.test(v))
    throw new RangeError(`Expected \`${name}\` to be ${what}, got ${describe(v)}`);
}

export function checkName(name: unknown): string {
  checkString('name', name, 'a non-empty string without `{` or `}`');
  return name as string;
}

export function checkUrl(url: unknown): string {
  if (typeof url !== 'string')
    throw new TypeError(`Expected \`url\` to be a redis:// URL string, got ${describe(url)}`);
  return url;
}

export function checkOptions<T>(options: unknown): CheckedOptions<T> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const o = (options ?? {}) as RedisQueueOptions<T>;
  const codec = o.codec;
  if (codec !== undefined && codec !== 'json') checkCodec(codec);
  if (o.prefix !== undefined && typeof o.prefix !== 'string') {
    throw new TypeError(`Expected \`prefix\` to be a string, got ${describe(o.prefix)}`);
  }
  if (o.prefix !== undefined && /[{}]/.test(o.prefix)) {
    throw new RangeError(
      `Expected \`prefix\` to be a string without \`{\` or \`}\`, got ${describe(o.prefix)}`,
    );
  }
  if (o.reliable !== undefined && typeof o.reliable !== 'boolean') {
    throw new TypeError(`Expected \`reliable\` to be a boolean, got ${describe(o.reliable)}`);
  }
  if (o.consumerId !== undefined)
    checkString('consumerId', o.consumerId, 'a non-empty string without `{` or `}`');
  if (o.redis !== undefined && (typeof o.redis !== 'object' || o.redis === null)) {
    throw new TypeError(`Expected \`redis\` to be an object of ioredis options, got ${describe(o.redis)}`);
  }
  if (o.redis?.keyPrefix) throw new TypeError('`redis.keyPrefix` is not supported: use the `prefix` option');
  return {
    maxsize: o.maxsize === undefined ? undefined : checkMaxsize(o.maxsize),
    codec,
    prefix: o.prefix ?? 'procq:',
    reliable: o.reliable,
    consumerId: o.consumerId,
    heartbeatMs: checkPositiveMs('heartbeatMs', o.heartbeatMs, 10_000),
    sliceMs: checkPositiveMs('sliceMs', o.sliceMs, 10_000),
    redis: o.redis ?? {},
  };
}
