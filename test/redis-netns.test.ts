// Many hosts, for real: a producer and a consumer each in a network namespace of its own (`ip netns`), reaching one
// redis-server over virtual ethernet (veth pairs), with the link of each cut and restored mid-run
// (`ip link set … down/up`). Checks: nothing is lost (every task done at least once, join() returns), the waits
// resume after the cut, and every error the clients saw is typed (a procq `code`). A cut during a take loses its
// reply while its item sits in the consumer's processing list; the consumer, alive and back in `get`, must give it
// back itself (nobody else recovers a live consumer's list), or join() never returns.
//
// Needs root and `ip netns` (skipped with a message otherwise), and redis-server (see redis-server.ts). The
// namespaces and links are removed in a `finally`, whatever happens.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectQueue } from '../src/redis/index.js';
import { type RedisServer, redisSkipReason, startRedis } from './helpers/redis-server.js';
import { type ModuleChild, runModuleChild } from './helpers/util.js';

const MODULE = new URL('../src/redis/index.js', import.meta.url).href;
const id = process.pid % 10_000;
const octet = process.pid % 250;
const hosts = {
  producer: { ns: `procq-p${id}`, host: `pq${id}p0`, peer: `pq${id}p1`, net: `10.213.${octet}` },
  consumer: { ns: `procq-c${id}`, host: `pq${id}c0`, peer: `pq${id}c1`, net: `10.214.${octet}` },
};

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'creating network namespaces (ip netns add) needs root';
  const probe = `procq-probe${id}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0)
    return `ip netns add is not allowed here: ${(r.stderr || r.error?.message || '').trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

function setUp(): void {
  for (const h of Object.values(hosts)) {
    ip('netns', 'add', h.ns);
    ip('link', 'add', h.host, 'type', 'veth', 'peer', 'name', h.peer);
    ip('link', 'set', h.peer, 'netns', h.ns);
    ip('addr', 'add', `${h.net}.1/24`, 'dev', h.host);
    ip('link', 'set', h.host, 'up');
    ip('-n', h.ns, 'addr', 'add', `${h.net}.2/24`, 'dev', h.peer);
    ip('-n', h.ns, 'link', 'set', h.peer, 'up');
    ip('-n', h.ns, 'link', 'set', 'lo', 'up');
  }
}

function tearDown(): void {
  for (const h of Object.values(hosts)) {
    spawnSync('ip', ['link', 'del', h.host]); // removes its peer too
    spawnSync('ip', ['netns', 'del', h.ns]);
  }
}

/** Runs `code` (an ES module body; `connectQueue` imported, `A` the args) with node inside namespace `ns`. */
function inNamespace(ns: string, code: string, args: unknown): ModuleChild {
  const src = `const { connectQueue } = await import(${JSON.stringify(MODULE)});
const A = JSON.parse(process.env.PROCQ_TEST_ARGS);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
${code}`;
  return runModuleChild(src, {
    env: { PROCQ_TEST_ARGS: JSON.stringify(args) },
    launcher: ['ip', 'netns', 'exec', ns],
  });
}

// Both hosts retry a call that failed with a connection error (typed: RedisConnectionError), as a user would; a put
// retried after an error may have gone through already (at least once). Every other error fails the host.
const OPTIONS = `{ prefix: A.prefix, joinable: true, heartbeatMs: 1500, sliceMs: 400, redis: { commandTimeout: 1200, connectTimeout: 1000 } }`;
const PRODUCER = `
const q = await connectQueue(A.url, 'farm', ${OPTIONS});
const errors = [];
for (let i = 0; i < A.n; i++) {
  for (;;) {
    try { await q.put(i, { timeout: 30000 }); break; }
    catch (e) { errors.push([e.name, e.code ?? null, e.message]); if (e.code !== 'PROCQ_REDIS_CONNECTION') throw e; await sleep(100); }
  }
  await sleep(A.pace);
}
process.stdout.write(JSON.stringify({ errors }));
process.exit(0);`;
const CONSUMER = `
const q = await connectQueue(A.url, 'farm', ${OPTIONS});
const got = [];
const errors = [];
for (;;) {
  let v;
  try { v = await q.get({ timeout: 60000 }); }
  catch (e) {
    if (e.code === 'PROCQ_SHUTDOWN') break;
    errors.push([e.name, e.code ?? null, e.message]);
    if (e.code !== 'PROCQ_REDIS_CONNECTION') throw e;
    await sleep(100);
    continue;
  }
  got.push(v);
  for (;;) {
    try { await q.taskDoneAsync(); break; }
    catch (e) { errors.push([e.name, e.code ?? null, e.message]); if (e.code !== 'PROCQ_REDIS_CONNECTION') throw e; await sleep(100); }
  }
}
process.stdout.write(JSON.stringify({ got, errors }));
process.exit(0);`;

/** Every key under `prefix` with its value, for a failure message. */
async function keyState(admin: Redis, prefix: string): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const key of await admin.keys(`${prefix}*`)) {
    const type = await admin.type(key);
    if (type === 'hash') out[key] = await admin.hgetall(key);
    else if (type === 'list') out[key] = await admin.lrange(key, 0, 50);
    else if (type === 'zset') out[key] = await admin.call('ZRANGE', key, '0', '50', 'WITHSCORES');
    else if (type === 'set') out[key] = await admin.smembers(key);
    else if (type === 'string') out[key] = await admin.get(key);
    else out[key] = type;
  }
  return JSON.stringify(out);
}

const skip = redisSkipReason() ?? netnsSkipReason();
if (skip)
  it('producer and consumer on separate network namespaces (needs root, ip netns, redis-server)', {
    skip,
  }, () => {});

describe('many hosts: network namespaces, links cut and restored', { skip }, () => {
  let server: RedisServer | undefined;
  before(() => setUp());
  after(async () => {
    await server?.stop();
    tearDown();
  });

  it('nothing lost, waits resume after each cut, every error typed', {
    timeout: 120_000,
  }, async () => {
    server = await startRedis([`${hosts.producer.net}.1`, `${hosts.consumer.net}.1`]);
    const admin = new Redis(server.url);
    const prefix = `procq-netns-${process.pid}:`;
    const n = 400;
    const here = await connectQueue<number>(server.url, 'farm', {
      prefix,
      joinable: true,
      heartbeatMs: 1500,
    });
    try {
      const url = (h: { net: string }) => `redis://${h.net}.1:${server!.port}`;
      const consumer = inNamespace(hosts.consumer.ns, CONSUMER, { url: url(hosts.consumer), prefix });
      const producer = inNamespace(hosts.producer.ns, PRODUCER, {
        url: url(hosts.producer),
        prefix,
        n,
        pace: 8,
      });
      const unfinished = async () => Number(await admin.hget(`${prefix}{farm}:meta`, 'unfinished'));
      const cuts: string[] = [];
      // Cut each host's link for 2.5 s (longer than its heartbeat, so the consumer's tasks are recovered and
      // delivered again), once work is under way.
      for (const h of [hosts.consumer, hosts.producer]) {
        const t0 = performance.now();
        while ((await unfinished()) < 1 && performance.now() - t0 < 30_000)
          await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, 700));
        ip('link', 'set', h.host, 'down');
        cuts.push(`${h.ns} down`);
        await new Promise((r) => setTimeout(r, 2500));
        ip('link', 'set', h.host, 'up');
        cuts.push(`${h.ns} up`);
      }
      const p = await producer.done;
      assert.equal(p.code, 0, `producer: ${p.err}`);
      const joined = await here.join({ timeout: 60_000 });
      const state = joined ? '' : await keyState(admin, prefix);
      await here.shutdownAsync();
      const c = await consumer.done;
      assert.ok(
        joined,
        `join() returned: every task done. Redis keys: ${state}; consumer: ${c.out} ${c.err}`,
      );
      assert.equal(c.code, 0, `consumer: ${c.err}`);
      const { errors: perrors } = JSON.parse(p.out) as { errors: [string, string | null, string][] };
      const { got, errors: cerrors } = JSON.parse(c.out) as {
        got: number[];
        errors: [string, string | null][];
      };
      const lost = Array.from({ length: n }, (_, i) => i).filter((i) => !got.includes(i));
      assert.deepEqual(lost, [], 'items lost');
      const untyped = [...perrors, ...cerrors].filter(
        ([, code]) => code === null || !code.startsWith('PROCQ_'),
      );
      assert.deepEqual(untyped, [], 'errors without a procq code');
      const after = got.length;
      console.log(
        `netns: ${n} tasks, consumer got ${after} (${after - new Set(got).size} again after a cut); cuts: ${cuts.join(', ')}; errors seen: producer ${perrors.length}, consumer ${cerrors.length} (${[...new Set([...perrors, ...cerrors].map((e) => e[1]))].join(', ') || 'none'})`,
      );
      assert.equal(await here.qsizeAsync(), 0, 'the queue is empty');
    } finally {
      await here.destroy().catch(() => {});
      here.close();
      await here.joinThread();
      await admin.quit();
    }
  });
});
