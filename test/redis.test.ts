// The Redis transport against a real redis-server (test/helpers/redis-server.ts): the Queue contract, batches,
// shutdown across clients, reliable delivery with a killed consumer, and producers and consumers in separate
// processes. Every test works under its own key prefix and fails when it leaves a key behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ClosedError, Empty, Full, Queue, ShutDown } from '../src/index.js';
import {
  connectQueue,
  QueueGoneError,
  RedisJoinableQueue,
  type RedisQueue,
  type RedisQueueOptions,
} from '../src/redis/index.js';
import { type RedisServer, redisSkipReason, startRedis } from './helpers/redis-server.js';

const skip = redisSkipReason();
let server: RedisServer;
let admin: Redis;
let testCount = 0;

/** The module a child process imports (the compiled one next to this compiled test, or the source under tsx). */
const MODULE = new URL('../src/redis/index.js', import.meta.url).href;

interface Scope {
  prefix: string;
  open<T = unknown>(name: string, options?: RedisQueueOptions<T>): Promise<RedisQueue<T>>;
  openJoinable<T = unknown>(name: string, options?: RedisQueueOptions<T>): Promise<RedisJoinableQueue<T>>;
}

/**
 * Runs `body` with a fresh key prefix; afterwards closes every client it opened, destroys their queues, and fails
 * when any key under the prefix is left.
 */
async function scoped(body: (s: Scope) => Promise<void>): Promise<void> {
  const prefix = `procq-test-${process.pid}-${++testCount}:`;
  const opened: RedisQueue<any>[] = [];
  const scope: Scope = {
    prefix,
    async open(name, options) {
      const q = await connectQueue(server.url, name, { prefix, ...options });
      opened.push(q);
      return q as RedisQueue<any>;
    },
    async openJoinable(name, options) {
      const q = await RedisJoinableQueue.connect(server.url, name, { prefix, ...options });
      opened.push(q);
      return q as RedisJoinableQueue<any>;
    },
  };
  try {
    await body(scope);
  } finally {
    for (const q of opened) {
      q.close();
      await q.joinThread();
    }
    const names = new Set(opened.map((q) => q.name));
    for (const name of names) {
      await using q = await connectQueue(server.url, name, { prefix });
      await q.destroy();
    }
  }
  assert.deepEqual(await admin.keys(`${prefix}*`), [], 'keys left behind');
}

/** Settles within `ms`, or fails the test. */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs a child node process with `code` (an ES module body; `connectQueue` imported, `ARGS` parsed). */
function child(
  code: string,
  args: unknown,
): { done: Promise<{ code: number | null; out: string; err: string }>; pid: number } {
  const src = `const { connectQueue } = await import(${JSON.stringify(MODULE)});\nconst ARGS = JSON.parse(process.env.PROCQ_TEST_ARGS);\n${code}`;
  const loaders = process.execArgv.filter(
    (a, i, all) => a.startsWith('--import') || all[i - 1] === '--import',
  );
  const p = spawn(process.execPath, [...loaders, '--input-type=module', '-e', src], {
    env: { ...process.env, PROCQ_TEST_ARGS: JSON.stringify(args) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => {
    out += d;
  });
  p.stderr.on('data', (d) => {
    err += d;
  });
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    p.on('close', (code) => resolve({ code, out, err }));
  });
  return { done, pid: p.pid! };
}

// Reported as one skipped test, so a run without Redis says so.
if (skip) it('RedisQueue (needs redis-server)', { skip }, () => {});

describe('RedisQueue', { skip }, () => {
  before(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  after(async () => {
    await admin?.quit();
    await server?.stop();
  });

  it('is FIFO and carries every kind of item structured clone takes', () =>
    scoped(async ({ open }) => {
      const q = await open<unknown>('fifo');
      const items: unknown[] = [
        'ascii',
        'ünïcødé ✓',
        '',
        0,
        -1.5,
        Number.NaN,
        true,
        false,
        null,
        undefined,
        Buffer.from('buf'),
        new Uint8Array([1, 2, 3]),
        { a: [1, { b: 2n }] },
        new Map([['k', new Set([1])]]),
        new Date(5),
        'x'.repeat(100_000),
      ];
      for (const x of items) await q.put(x);
      assert.equal(await q.qsizeAsync(), items.length);
      assert.equal(q.qsize(), items.length);
      for (const x of items) assert.deepEqual(await q.get(), x);
      const b = await (async () => {
        await q.put(Buffer.from('z'));
        return q.get();
      })();
      assert.ok(Buffer.isBuffer(b));
      assert.equal(await q.emptyAsync(), true);
      assert.equal(q.empty(), true);
    }));

  it('enforces maxsize: Full on timeout and block:false, Empty likewise', () =>
    scoped(async ({ open }) => {
      const q = await open<number>('bounded', { maxsize: 2 });
      assert.equal(q.maxsize, 2);
      await q.put(1);
      await q.put(2);
      assert.equal(await q.fullAsync(), true);
      assert.equal(q.full(), true);
      let t0 = performance.now();
      await assert.rejects(q.put(3, { timeout: 150 }), Full);
      assert.ok(performance.now() - t0 >= 140, 'put waited its timeout');
      t0 = performance.now();
      await assert.rejects(q.put(3, { block: false, timeout: 5000 }), Full);
      assert.ok(performance.now() - t0 < 1000, 'block:false ignores timeout');
      assert.throws(() => q.putNowait(3), Full);
      assert.throws(() => q.putSync(3, { timeout: 50 }), Full);
      assert.equal(await q.qsizeAsync(), 2);
      assert.equal(await q.get(), 1);
      assert.equal(q.getNowait(), 2);
      t0 = performance.now();
      await assert.rejects(q.get({ timeout: 150 }), Empty);
      assert.ok(performance.now() - t0 >= 140, 'get waited its timeout');
      await assert.rejects(q.get({ block: false, timeout: 5000 }), Empty);
      assert.throws(() => q.getNowait(), Empty);
      assert.throws(() => q.getSync({ timeout: 50 }), Empty);
      assert.equal(q.full(), false);
    }));

  it('rejects the arguments Queue rejects, with the same errors', () =>
    scoped(async ({ open }) => {
      const q = await open('args', { maxsize: 1 });
      const shm = new Queue(1);
      const bad: unknown[] = [{ timeout: Number.NaN }, { timeout: 'x' }, { block: 1 }, 5, { signal: 3 }];
      const caught = (f: () => unknown): unknown => {
        try {
          f();
        } catch (e) {
          return e;
        }
        assert.fail('did not throw');
      };
      const same = (a: unknown, b: unknown): void => {
        assert.equal((a as Error).constructor, (b as Error).constructor);
        assert.equal((a as Error).message, (b as Error).message);
      };
      for (const o of bad) {
        const asyncForms = [
          [() => q.put(1, o as any), () => shm.put(1, o as any)],
          [() => q.get(o as any), () => shm.get(o as any)],
          [() => q.putMany([1], o as any), () => shm.putMany([1], o as any)],
          [() => q.getMany(1, o as any), () => shm.getMany(1, o as any)],
        ] as const;
        for (const [r, s] of asyncForms) {
          const p = r(); // never throws synchronously
          same(
            await p.then(
              () => assert.fail('resolved'),
              (e) => e,
            ),
            await s().then(
              () => 0,
              (e) => e,
            ),
          );
        }
        same(
          caught(() => q.putSync(1, o as any)),
          caught(() => shm.putSync(1, o as any)),
        );
        same(
          caught(() => q.getSync(o as any)),
          caught(() => shm.getSync(o as any)),
        );
      }
      for (const max of [0, 1.5, '2', -1]) {
        same(await q.getMany(max as any).catch((e) => e), await shm.getMany(max as any).catch((e) => e));
        same(
          caught(() => q.getManySync(max as any)),
          caught(() => shm.getManySync(max as any)),
        );
      }
      for (const maxsize of [1.5, '3', 2 ** 40]) {
        let fromShm: unknown;
        try {
          new Queue(maxsize as any);
        } catch (e) {
          fromShm = e;
        }
        same(await connectQueue(server.url, 'x', { maxsize: maxsize as any }).catch((e) => e), fromShm);
      }
      await assert.rejects(connectQueue(server.url, '', {}), RangeError);
      await assert.rejects(connectQueue(server.url, 'a{b}', {}), RangeError);
      await assert.rejects(connectQueue(42 as any, 'x'), TypeError);
    }));

  it('fails to connect with an error that names the server', async () => {
    const err = await connectQueue('redis://:secret@127.0.0.1:1', 'x').then(
      () => assert.fail('connected'),
      (e) => e,
    );
    assert.match(err.message, /cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    assert.doesNotMatch(err.message, /secret/);
  });

  it('refuses a different maxsize for an existing queue, adopts it when omitted', () =>
    scoped(async ({ open, prefix }) => {
      await open('shared', { maxsize: 3 });
      await assert.rejects(
        connectQueue(server.url, 'shared', { prefix, maxsize: 4 }),
        /exists with maxsize 3/,
      );
      const other = await open('shared');
      assert.equal(other.maxsize, 3);
    }));

  it('aborts a blocked get and a blocked put without taking or putting anything', () =>
    scoped(async ({ open }) => {
      const q = await open<string>('abort', { maxsize: 1 });
      const ac = new AbortController();
      const reason = new Error('stop');
      const pending = q.get({ signal: ac.signal });
      await tick(50);
      ac.abort(reason);
      const err = await within(
        2000,
        pending.then(
          () => assert.fail('resolved'),
          (e) => e,
        ),
        'aborted get',
      );
      assert.equal(err.name, 'AbortError');
      assert.equal(err.code, 'ABORT_ERR');
      assert.equal(err.cause, reason);
      await q.put('kept');
      const ac2 = new AbortController();
      const blockedPut = q.put('never', { signal: ac2.signal });
      await tick(50);
      ac2.abort();
      await within(2000, assert.rejects(blockedPut, { name: 'AbortError' }), 'aborted put');
      assert.equal(await q.qsizeAsync(), 1);
      assert.equal(await q.get(), 'kept');
      await assert.rejects(q.get({ signal: AbortSignal.abort() }), { name: 'AbortError' });
      await assert.rejects(q.put('x', { signal: AbortSignal.abort() }), { name: 'AbortError' });
      assert.equal(await q.qsizeAsync(), 0);
    }));

  it('an abort racing with a put loses and duplicates nothing', () =>
    scoped(async ({ open }) => {
      const a = await open<number>('abort-race');
      const b = await open<number>('abort-race');
      const got: number[] = [];
      let aborted = 0;
      const rounds = 60;
      for (let i = 0; i < rounds; i++) {
        const ac = new AbortController();
        const pending = a.get({ signal: ac.signal }).then(
          (x) => got.push(x),
          (e) => {
            assert.equal(e.name, 'AbortError');
            aborted++;
          },
        );
        await tick(i % 3);
        const put = b.put(i);
        if (i % 2) await put;
        ac.abort();
        await put;
        await within(3000, pending, 'racing get');
      }
      const left = await b.getMany(rounds, { block: false }).catch(() => []);
      assert.deepEqual(
        [...got, ...left].sort((x, y) => x - y),
        Array.from({ length: rounds }, (_, i) => i),
      );
      assert.ok(aborted > 0, 'some gets were aborted');
    }));

  it('wakes a blocked get on a put from another client, and a blocked put on a get (no polling)', () =>
    scoped(async ({ open }) => {
      const a = await open<number>('wake', { maxsize: 1, sliceMs: 60_000 });
      const b = await open<number>('wake');
      let t0 = performance.now();
      const got = a.get({ timeout: 10_000 });
      await tick(30);
      await b.put(7);
      assert.equal(await got, 7);
      assert.ok(performance.now() - t0 < 1000, 'get woke at once');
      await b.put(1);
      t0 = performance.now();
      const put = a.put(2, { timeout: 10_000 });
      await tick(30);
      assert.equal(await b.get(), 1);
      await within(1000, put, 'blocked put');
      assert.ok(performance.now() - t0 < 1000, 'put woke at once');
      assert.equal(await b.get(), 2);
      // Many waiting producers, each woken by one take.
      await b.put(0);
      const puts = [1, 2, 3, 4].map((i) => a.put(i, { timeout: 10_000 }));
      await tick(30);
      const got4: number[] = [];
      for (let i = 0; i < 5; i++) got4.push(await b.get({ timeout: 5000 }));
      await within(3000, Promise.all(puts), 'waiting producers');
      assert.deepEqual(got4.slice(0, 1), [0]);
      assert.deepEqual([...got4.slice(1)].sort(), [1, 2, 3, 4]);
    }));

  it('putMany/getMany: batches in order, Full with putCount, getMany waits only for the first', () =>
    scoped(async ({ open }) => {
      const q = await open<number>('batch');
      const n = 5000;
      const all = Array.from({ length: n }, (_, i) => i);
      assert.equal(await q.putMany(all), n);
      assert.equal(await q.putMany([]), 0);
      const got: number[] = [];
      while (got.length < n) got.push(...(await q.getMany(777)));
      assert.deepEqual(got, all);
      const pending = q.getMany(10, { timeout: 5000 });
      await tick(30);
      await q.putMany([1, 2, 3]);
      const first = await pending;
      assert.ok(first.length >= 1 && first.length <= 3);
      const rest = await q.getMany(10, { block: false }).catch(() => []);
      assert.deepEqual([...first, ...rest], [1, 2, 3]);
      const b = await open<number>('batch-bounded', { maxsize: 3 });
      const err = await b.putMany([1, 2, 3, 4, 5], { timeout: 50 }).catch((e) => e);
      assert.ok(err instanceof Full);
      assert.equal((err as Full & { putCount: number }).putCount, 3);
      assert.deepEqual(await b.getMany(2), [1, 2]);
      assert.deepEqual(b.getManySync(5), [3]);
      assert.equal(b.putManySync([7, 8]), 2);
      const waiting = b.putMany([9, 10, 11], { timeout: 5000 });
      await tick(30);
      assert.deepEqual(await b.getMany(3), [7, 8, 9]);
      assert.equal(await within(2000, waiting, 'waiting putMany'), 3);
      assert.deepEqual(await b.getMany(3), [10, 11]);
    }));

  it('shutdown across clients: puts fail, gets drain then fail, waiters wake, for-await ends', () =>
    scoped(async ({ open }) => {
      const a = await open<number>('shut', { maxsize: 2 });
      const b = await open<number>('shut');
      const c = await open<number>('shut');
      const blockedGets = [b.get(), c.get()];
      await tick(50);
      await a.putMany([1, 2]);
      assert.deepEqual((await within(2000, Promise.all(blockedGets), 'blocked gets')).sort(), [1, 2]);
      await a.putMany([3, 4]);
      const blockedPut = a.put(5).catch((e) => e);
      await tick(50);
      assert.equal(await b.isShutDownAsync(), false);
      await a.shutdownAsync();
      assert.ok((await within(2000, blockedPut, 'blocked put')) instanceof ShutDown);
      assert.equal(await b.isShutDownAsync(), true);
      assert.equal(c.isShutDown, true);
      await assert.rejects(a.put(9), ShutDown);
      await assert.rejects(a.putMany([9]), ShutDown);
      assert.throws(() => a.putNowait(9), ShutDown);
      assert.equal(await b.qsizeAsync(), 2);
      assert.equal(await b.get(), 3);
      assert.equal(c.getSync(), 4);
      await assert.rejects(b.get(), ShutDown);
      assert.throws(() => c.getSync(), ShutDown);
      await assert.rejects(c.getMany(3, { timeout: 10 }), ShutDown);
      assert.equal(await b.qsizeAsync(), 0);

      const d = await open<number>('shut-drain');
      await d.putMany([1, 2, 3]);
      const waiters = [1, 2, 3].map(async () => {
        const seen: number[] = [];
        for await (const x of d) seen.push(x);
        return seen;
      });
      const e = await open<number>('shut-drain');
      await tick(50);
      await e.putMany([4, 5]);
      e.shutdown();
      const seen = (await within(3000, Promise.all(waiters), 'for-await loops')).flat().sort();
      assert.deepEqual(seen, [1, 2, 3, 4, 5]);

      const f = await open<number>('shut-immediate');
      await f.putMany([1, 2, 3]);
      assert.equal(await f.qsizeAsync(), 3);
      f.shutdown({ immediate: true });
      assert.equal(await f.qsizeAsync(), 0);
      await assert.rejects(f.get(), ShutDown);
      await assert.rejects(f.getMany(5), ShutDown);
    }));

  it('close: pending waits reject with ClosedError, later calls too; other clients go on', () =>
    scoped(async ({ open }) => {
      const a = await open<string>('close');
      const b = await open<string>('close');
      const pending = a.get();
      await tick(50);
      a.close();
      await within(2000, assert.rejects(pending, ClosedError), 'pending get');
      await assert.rejects(a.put('x'), ClosedError);
      assert.throws(() => a.putNowait('x'), ClosedError);
      await a.joinThread();
      await b.put('still');
      assert.equal(await b.get(), 'still');
      await assert.rejects(b.joinThread(), /after close/);
    }));

  it('JoinableQueue: taskDone and join across clients', () =>
    scoped(async ({ open, openJoinable, prefix }) => {
      const p = await openJoinable<number>('join');
      const c = await openJoinable<number>('join');
      await p.putMany([1, 2, 3]);
      assert.equal(await p.join({ timeout: 50 }), false);
      const joined = p.join();
      for (let i = 0; i < 3; i++) {
        await c.get();
        if (i < 2) await c.taskDoneAsync();
        else c.taskDone();
      }
      assert.equal(await within(2000, joined, 'join'), true);
      assert.equal(c.joinSync({ timeout: 10 }), true);
      assert.throws(() => c.taskDone(), RangeError);
      await assert.rejects(c.taskDoneAsync(), RangeError);
      await p.put(4);
      const j2 = c.join();
      p.shutdown({ immediate: true });
      assert.equal(await within(2000, j2, 'join after immediate shutdown'), true);
      await open('plain');
      await assert.rejects(
        RedisJoinableQueue.connect(server.url, 'plain', { prefix }),
        /exists as a plain queue/,
      );
    }));

  it('refuses procq handles and what cannot be cloned (TypeError, queue unchanged); custom codec', () =>
    scoped(async ({ open }) => {
      const q = await open<unknown>('types');
      await assert.rejects(q.put(new Queue()), TypeError);
      await assert.rejects(q.put({ nested: [new Queue()] }), TypeError);
      await assert.rejects(
        q.put(() => 1),
        TypeError,
      );
      await assert.rejects(q.putMany([1, () => 1]), TypeError);
      assert.throws(() => q.putNowait(Symbol('s')), TypeError);
      assert.equal(await q.qsizeAsync(), 0);
      const json = {
        encode: (x: { v: number }) => Buffer.from(JSON.stringify(x)),
        decode: (b: Uint8Array) => JSON.parse(Buffer.from(b).toString()),
      };
      const c = await open<{ v: number }>('codec', { codec: json });
      await c.put({ v: 1 });
      assert.deepEqual(await c.get(), { v: 1 });
    }));

  it('QueueGoneError once the queue is destroyed', () =>
    scoped(async ({ open }) => {
      const a = await open<number>('gone');
      const b = await open<number>('gone');
      await a.destroy();
      await assert.rejects(b.put(1), QueueGoneError);
      await assert.rejects(b.get({ block: false }), QueueGoneError);
    }));

  it('reliable delivery: a consumer killed before acknowledging gives its item back; ack and close', () =>
    scoped(async ({ open, prefix }) => {
      const q = await open<string>('reliable', { reliable: true, heartbeatMs: 300 });
      await q.putMany(['a', 'b', 'c']);
      const victim = child(
        `const q = await connectQueue(ARGS.url, 'reliable', { prefix: ARGS.prefix, reliable: true, heartbeatMs: 300 });
         const item = await q.get();
         process.stdout.write(item);
         process.kill(process.pid, 'SIGKILL');`,
        { url: server.url, prefix },
      );
      const r = await within(10_000, victim.done, 'victim');
      assert.equal(r.out, 'a');
      assert.equal(await q.qsizeAsync(), 2);
      // Within a heartbeat period after the victim's key expires, a reliable client puts 'a' back at the head.
      const t0 = performance.now();
      while ((await q.qsizeAsync()) < 3) {
        assert.ok(performance.now() - t0 < 5000, 'the item of the killed consumer came back');
        await tick(20);
      }
      assert.equal(await q.get(), 'a');
      assert.equal(q.unacknowledged, 1);
      await q.ack();
      await assert.rejects(q.ack(), RangeError);
      assert.equal(await q.get(), 'b');
      // close() gives back what this client took and did not acknowledge.
      q.close();
      await q.joinThread();
      const other = await open<string>('reliable', { reliable: true, consumerId: 'other' });
      assert.deepEqual(await other.getMany(5), ['b', 'c']);
      assert.equal(await other.recover('other'), 2);
      assert.deepEqual(await other.getMany(5), ['b', 'c']);
      await other.ack(2);
      const ac = new AbortController();
      const pending = other.get({ signal: ac.signal });
      await tick(30);
      ac.abort();
      await assert.rejects(pending, { name: 'AbortError' });
      assert.equal(other.unacknowledged, 0);
      assert.equal(await admin.llen(`${prefix}{reliable}:proc:other`), 0);
      const plain = await open<string>('reliable');
      await assert.rejects(plain.ack(), TypeError);
    }));

  it('two producer processes and two consumer processes deliver every item exactly once', () =>
    scoped(async ({ open, prefix }) => {
      const n = Number(process.env.PROCQ_REDIS_ITEMS ?? 3000);
      const q = await open<string>('mpmc', { maxsize: 64 });
      const producer = `const q = await connectQueue(ARGS.url, 'mpmc', { prefix: ARGS.prefix });
        for (let i = 0; i < ARGS.n; ) {
          if (i % 3 === 0) { await q.putMany(Array.from({ length: Math.min(10, ARGS.n - i) }, (_, j) => ARGS.id + ':' + (i + j))); i += Math.min(10, ARGS.n - i); }
          else { await q.put(ARGS.id + ':' + i); i++; }
        }
        q.close(); await q.joinThread();`;
      const consumer = `const q = await connectQueue(ARGS.url, 'mpmc', { prefix: ARGS.prefix });
        const got = [];
        for (;;) {
          try { got.push(...(got.length % 2 ? [await q.get()] : await q.getMany(16))); }
          catch (e) { if (e.code === 'PROCQ_SHUTDOWN') break; throw e; }
        }
        process.stdout.write(JSON.stringify(got));
        q.close(); await q.joinThread();`;
      const args = { url: server.url, prefix, n };
      const consumers = [child(consumer, args), child(consumer, args)];
      const producers = [child(producer, { ...args, id: 'p0' }), child(producer, { ...args, id: 'p1' })];
      for (const p of producers) {
        const r = await within(25_000, p.done, 'producer');
        assert.equal(r.code, 0, r.err);
      }
      await q.shutdownAsync();
      const seen: string[][] = [];
      for (const c of consumers) {
        const r = await within(10_000, c.done, 'consumer');
        assert.equal(r.code, 0, r.err);
        seen.push(JSON.parse(r.out));
      }
      const all = seen.flat();
      assert.equal(all.length, 2 * n, 'every item delivered once');
      assert.equal(new Set(all).size, 2 * n, 'no item delivered twice');
      for (const c of seen) {
        // FIFO per producer, as each consumer sees it.
        for (const id of ['p0', 'p1']) {
          const mine = c.filter((x) => x.startsWith(`${id}:`)).map((x) => Number(x.slice(3)));
          assert.deepEqual(
            mine,
            [...mine].sort((x, y) => x - y),
          );
        }
      }
      assert.ok(
        seen.every((c) => c.length > 0),
        'both consumers took items',
      );
    }));
});
