/**
 * `procq ls --redis URL`: the procq queues kept in one Redis, found by their `meta` keys (`<prefix>{<name>}:meta`,
 * redis/scripts.ts), read with plain read commands (SCAN, HMGET, LLEN, ZCOUNT, SCARD, MEMORY USAGE): no script
 * runs, nothing is written, no queue operation is slowed beyond those reads.
 */
import { keysOf } from '../redis/scripts.js';

/** A Redis queue's row: the fields of a shared-memory queue's row where they apply, null where they do not. */
export interface RedisRow {
  readonly kind: 'Queue' | 'JoinableQueue';
  /** The queue's name (what `Queue.connect` was given). */
  readonly label: string;
  readonly transport: 'redis';
  /** The Redis key prefix of its keys (`<prefix>{<name>}:…`). */
  readonly key: string;
  readonly pid: null;
  readonly pidAlive: null;
  /** Reliable consumers registered (each with a heartbeat), or null when none registered. */
  readonly attached: number | null;
  readonly pids: number[];
  readonly segment: null;
  readonly stall: null;
  readonly qsize: number;
  readonly maxsize: number;
  /** Not tracked by Redis cheaply: null. */
  readonly bytesQueued: null;
  /** `MEMORY USAGE` of the items list and the state hash (Redis's estimate). */
  readonly bytesHeld: number | null;
  /** Blocking pops are not visible per key: null. */
  readonly getters: null;
  /** Producers registered as waiting for room (not expired). */
  readonly putters: number;
  readonly shutDown: boolean;
  readonly puts: null;
  readonly gets: null;
  readonly unfinished: number | null;
  /** Items taken by reliable consumers and not yet acknowledged. */
  readonly inFlight: number;
}

/** Lists the procq queues in the Redis at `url` whose keys start with `prefix`. */
export async function listRedisQueues(url: string, prefix = 'procq:'): Promise<RedisRow[]> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  redis.on('error', () => {}); // reported by the commands themselves
  try {
    await redis.connect();
    const names: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}{*}:meta`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const m = /\{(.*)\}:meta$/.exec(key.slice(prefix.length));
        if (m !== null && key.startsWith(prefix)) names.push(m[1]!);
      }
    } while (cursor !== '0');
    names.sort();
    const rows: RedisRow[] = [];
    for (const name of names) {
      const k = keysOf(prefix, name);
      const [meta, len, putters, consumers] = await Promise.all([
        redis.hmget(k.meta, 'maxsize', 'joinable', 'state', 'unfinished'),
        redis.llen(k.items),
        redis.zcount(k.putters, Date.now(), '+inf'),
        redis.smembers(k.consumers),
      ]);
      if (meta[0] === null) continue; // destroyed meanwhile
      const state = Number(meta[2] ?? 0);
      const joinable = meta[1] === '1';
      let inFlight = 0;
      for (const id of consumers) inFlight += await redis.llen(`${k.base}:proc:${id}`);
      let bytesHeld: number | null = null;
      try {
        const usage = await Promise.all([redis.memory('USAGE', k.items), redis.memory('USAGE', k.meta)]);
        bytesHeld = usage.reduce<number>((a, b) => a + Number(b ?? 0), 0);
      } catch {
        // MEMORY is disabled or renamed on this server
      }
      rows.push({
        kind: joinable ? 'JoinableQueue' : 'Queue',
        label: name,
        transport: 'redis',
        key: prefix,
        pid: null,
        pidAlive: null,
        attached: consumers.length === 0 ? null : consumers.length,
        pids: [],
        segment: null,
        stall: null,
        qsize: Math.max(0, len - (state !== 0 ? 1 : 0)),
        maxsize: Number(meta[0]),
        bytesQueued: null,
        bytesHeld,
        getters: null,
        putters,
        shutDown: state !== 0,
        puts: null,
        gets: null,
        unfinished: joinable ? Number(meta[3] ?? 0) : null,
        inFlight,
      });
    }
    return rows;
  } finally {
    redis.disconnect();
  }
}
