/**
 * The Redis workloads (family `redis`): procq's Redis transport against a bare LPUSH/BRPOP loop and BullMQ, on one
 * redis-server this case starts (a free port, no persistence) and stops. Producers and consumers are clients in
 * this process, all async, so every implementation pays the same client-side costs.
 *
 * | impl                   | producer                          | consumer                                      |
 * |------------------------|-----------------------------------|-----------------------------------------------|
 * | procq-redis-async      | `put(x)`                          | `get()`                                       |
 * | procq-redis-batch      | `putMany(batch)`                  | `getMany(batch)`                              |
 * | procq-redis-joinable   | `putMany(batch)`                  | `getMany(batch)`, `taskDone` each (reliable)  |
 * | redis-lpush-brpop      | `LPUSH k x`                       | `BRPOP k`                                     |
 * | redis-lpush-blmpop     | `LPUSH k x1 … xbatch`             | `BLMPOP 1 k RIGHT COUNT batch`                |
 * | bullmq-add             | `Queue.add`                       | `Worker`, concurrency 50                      |
 * | bullmq-addbulk         | `Queue.addBulk(batch)`            | `Worker`, concurrency 50                      |
 *
 * `msgs` is per producer; the rate is items (jobs) delivered per second, all producers together, timed from when
 * every client is connected (connecting is not the workload).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaseResult } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const { Redis } = await import('ioredis');
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return { url, child };
    } catch {
      c.disconnect();
      await sleep(25);
    }
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

const item = (size: number, i: number): string => `${i}:`.padEnd(size, 'x');

/** Connects its clients, calls `ready()` (the clock starts), moves every item; returns how many arrived. */
type Body = (url: string, spec: CaseSpec, ready: () => void) => Promise<number>;

/** procq's RedisQueue: P producers and C consumers, each its own client. Returns items got. */
const procq =
  (mode: 'async' | 'batch' | 'joinable'): Body =>
  async (url, s, ready) => {
    const { connectQueue } = await import('../../src/redis/index.js');
    const joinable = mode === 'joinable';
    const open = () =>
      joinable
        ? connectQueue<string>(url, 'bench', { joinable: true, maxsize: s.maxsize })
        : connectQueue<string>(url, 'bench', { maxsize: s.maxsize });
    const producers = await Promise.all(Array.from({ length: s.producers }, open));
    const consumers = await Promise.all(Array.from({ length: s.consumers }, open));
    const total = s.msgs * s.producers;
    let got = 0;
    ready();
    const produce = async (q: (typeof producers)[number], p: number) => {
      if (mode === 'async') for (let i = 0; i < s.msgs; i++) await q.put(item(s.size, p * s.msgs + i));
      else
        for (let i = 0; i < s.msgs; i += s.batch) {
          const n = Math.min(s.batch, s.msgs - i);
          await q.putMany(Array.from({ length: n }, (_, j) => item(s.size, p * s.msgs + i + j)));
        }
    };
    const consume = async (q: (typeof consumers)[number]) => {
      for (;;) {
        let items: string[];
        try {
          items = mode === 'async' ? [await q.get()] : await q.getMany(s.batch);
        } catch (err) {
          if ((err as { code?: string }).code === 'PROCQ_SHUTDOWN') return;
          throw err;
        }
        got += items.length;
        if (joinable) for (let k = 0; k < items.length; k++) await (q as any).taskDoneAsync();
      }
    };
    const consuming = consumers.map(consume);
    await Promise.all(producers.map(produce));
    if (joinable) await (producers[0] as any).join();
    while (got < total) await sleep(1);
    await producers[0]!.shutdownAsync();
    await Promise.all(consuming);
    for (const q of [...producers, ...consumers]) q.close();
    return got;
  };

/** The bare loop: LPUSH one item (or `batch` in one command) and BRPOP (or BLMPOP … COUNT batch). */
const bare =
  (batched: boolean): Body =>
  async (url, s, ready) => {
    const { Redis } = await import('ioredis');
    const clients = (n: number) => Array.from({ length: n }, () => new Redis(url));
    const producers = clients(s.producers);
    const consumers = clients(s.consumers);
    const total = s.msgs * s.producers;
    let got = 0;
    await Promise.all([...producers, ...consumers].map((r) => r.ping()));
    ready();
    const produce = async (r: InstanceType<typeof Redis>, p: number) => {
      if (!batched) for (let i = 0; i < s.msgs; i++) await r.lpush('bench', item(s.size, p * s.msgs + i));
      else
        for (let i = 0; i < s.msgs; i += s.batch) {
          const n = Math.min(s.batch, s.msgs - i);
          await r.lpush('bench', ...Array.from({ length: n }, (_, j) => item(s.size, p * s.msgs + i + j)));
        }
    };
    const consume = async (r: InstanceType<typeof Redis>) => {
      while (got < total) {
        if (!batched) {
          const v = await r.brpop('bench', 0.05);
          if (v) got++;
        } else {
          const v = (await r.call('BLMPOP', '0.05', '1', 'bench', 'RIGHT', 'COUNT', String(s.batch))) as
            | [string, string[]]
            | null;
          if (v) got += v[1].length;
        }
      }
    };
    const consuming = consumers.map(consume);
    await Promise.all(producers.map(produce));
    await Promise.all(consuming);
    for (const r of [...producers, ...consumers]) r.disconnect();
    return got;
  };

/** BullMQ: Queue.add (or addBulk) and Workers with concurrency 50, jobs removed on completion. */
const bullmq =
  (bulk: boolean): Body =>
  async (url, s, ready) => {
    const { Queue, Worker } = await import('bullmq');
    const u = new URL(url);
    const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
    const queues = Array.from({ length: s.producers }, () => new Queue('bench', { connection }));
    const total = s.msgs * s.producers;
    let got = 0;
    let resolveAll: () => void = () => {};
    const allDone = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    const workers = Array.from(
      { length: s.consumers },
      () =>
        new Worker(
          'bench',
          async () => {
            if (++got === total) resolveAll();
          },
          { connection, concurrency: 50, removeOnComplete: { count: 0 }, removeOnFail: { count: 0 } },
        ),
    );
    await Promise.all([...queues.map((q) => q.waitUntilReady()), ...workers.map((w) => w.waitUntilReady())]);
    ready();
    const opts = { removeOnComplete: true, removeOnFail: true };
    await Promise.all(
      queues.map(async (q, p) => {
        if (!bulk)
          for (let i = 0; i < s.msgs; i++) await q.add('job', { v: item(s.size, p * s.msgs + i) }, opts);
        else
          for (let i = 0; i < s.msgs; i += s.batch) {
            const n = Math.min(s.batch, s.msgs - i);
            await q.addBulk(
              Array.from({ length: n }, (_, j) => ({
                name: 'job',
                data: { v: item(s.size, p * s.msgs + i + j) },
                opts,
              })),
            );
          }
      }),
    );
    await allDone;
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(queues.map((q) => q.close()));
    return got;
  };

const BODIES: Record<string, Body> = {
  'procq-redis-async': procq('async'),
  'procq-redis-batch': procq('batch'),
  'procq-redis-joinable': procq('joinable'),
  'redis-lpush-brpop': bare(false),
  'redis-lpush-blmpop': bare(true),
  'bullmq-add': bullmq(false),
  'bullmq-addbulk': bullmq(true),
};

export async function redisCase(spec: CaseSpec): Promise<CaseResult> {
  const body = BODIES[spec.impl];
  if (!body) throw new Error(`unknown Redis impl ${spec.impl}`);
  const { url, child } = await startServer();
  try {
    let t0 = performance.now();
    const got = await body(url, spec, () => {
      t0 = performance.now();
    });
    const seconds = (performance.now() - t0) / 1000;
    const msgs = spec.msgs * spec.producers;
    if (got !== msgs) throw new Error(`${spec.impl}: ${got} of ${msgs} items arrived`);
    return { bench: spec.bench, impl: spec.impl, size: spec.size, msgs, seconds, msgs_per_s: msgs / seconds };
  } finally {
    child.kill('SIGKILL');
  }
}
