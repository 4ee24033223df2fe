// What only the Redis transport has, against a real redis-server (test/helpers/redis-server.ts): connecting,
// codecs other languages read (codec: 'json'), handles in Process args and items, reliable (at-least-once)
// delivery with killed consumers. The Queue contract itself runs over Redis in test/queue-redis*.test.ts.
// Every test works under its own key prefix and fails when it leaves a key behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ClosedError, Process, Queue } from '../src/index.js';
import {
  connectQueue,
  QueueGoneError,
  RedisConnectionError,
  RedisJoinableQueue,
  type RedisQueue,
  type RedisQueueOptions,
} from '../src/redis/index.js';
import { type RedisServer, redisSkipReason, startRedis } from './helpers/redis-server.js';
import { type ModuleChild, runModuleChild } from './helpers/util.js';

const skip = redisSkipReason();
let server: RedisServer;
let admin: Redis;
let testCount = 0;

/** The Process targets of the handle and at-least-once tests. */
const TARGETS = new URL('./fixtures/redis-targets.js', import.meta.url);

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
      // The meta hash says how the queue stores items: connect as it does.
      const codec = (await admin.hget(`${prefix}{${name}}:meta`, 'codec')) === 'json' ? 'json' : undefined;
      await using q = await connectQueue(server.url, name, { prefix, codec });
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
function child(code: string, args: unknown): ModuleChild {
  const src = `const { connectQueue } = await import(${JSON.stringify(MODULE)});\nconst ARGS = JSON.parse(process.env.PROCQ_TEST_ARGS);\n${code}`;
  const execArgv = process.execArgv.filter(
    (a, i, all) => a.startsWith('--import') || all[i - 1] === '--import',
  );
  return runModuleChild(src, { env: { PROCQ_TEST_ARGS: JSON.stringify(args) }, execArgv });
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
    assert.ok(err instanceof RedisConnectionError, 'a typed error');
    assert.equal(err.code, 'PROCQ_REDIS_CONNECTION');
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
  describe("codec: 'json': items other languages read and write", () => {
    it("a raw client's RPUSH of JSON reaches procq's get; procq's put reaches LPOP and redis-cli as JSON text", () =>
      scoped(async ({ open, prefix }) => {
        const q = await open<unknown>('interop', { codec: 'json' });
        const key = `${prefix}{interop}:items`;
        // What a Python or Go producer does (docs/REDIS.md): RPUSH the JSON text onto the items list.
        await admin.rpush(
          key,
          JSON.stringify({ job: 'from python', n: [1, 2.5, null] }),
          '"消息"',
          '"\\ud800"',
        );
        assert.deepEqual(await q.get({ timeout: 2000 }), { job: 'from python', n: [1, 2.5, null] });
        assert.equal(q.getNowait(), '消息');
        assert.equal(
          await q.get({ timeout: 2000 }),
          '\uD800',
          'a lone surrogate, escaped in JSON, arrives as itself',
        );
        // What a Python or Go consumer does: LPOP (or BLPOP) and parse.
        await q.putMany([{ to: 'go', ok: true }, 42, '\uDFFF', 'last']);
        assert.deepEqual(JSON.parse((await admin.lpop(key))!), { to: 'go', ok: true });
        assert.deepEqual(JSON.parse((await admin.lpop(key))!), 42);
        assert.equal(JSON.parse((await admin.lpop(key))!), '\uDFFF');
        const cli = spawnSync('redis-cli', ['-p', String(server.port), '--raw', 'LPOP', key], {
          encoding: 'utf8',
        });
        if (cli.error === undefined)
          assert.equal(cli.stdout.trim(), '"last"', 'redis-cli shows the JSON text');
        else assert.equal(JSON.parse((await admin.lpop(key))!), 'last');
        // Values JSON has no form for: TypeError, nothing put.
        await assert.rejects(q.put(undefined), TypeError);
        await assert.rejects(q.put(10n as never), TypeError);
        assert.throws(() => q.putNowait(() => 1), TypeError);
        assert.equal(await q.qsizeAsync(), 0);
        // Something that is not JSON, pushed by someone else: the get says so (TypeError), the queue goes on.
        await admin.rpush(key, 'not json', '"ok"');
        await assert.rejects(q.get({ timeout: 2000 }), TypeError);
        assert.equal(await q.get({ timeout: 2000 }), 'ok');
        // The queue records its codec: a client with procq's encoding cannot connect to it, and the reverse.
        await assert.rejects(connectQueue(server.url, 'interop', { prefix }), /JSON/);
        await open('binary');
        await assert.rejects(
          connectQueue(server.url, 'binary', { prefix, codec: 'json' }),
          /procq's encoding/,
        );
      }));

    it('shutdown: a raw consumer sees the sentinel (NUL-prefixed, never JSON) and puts it back', () =>
      scoped(async ({ open, prefix }) => {
        const q = await open<string>('raw-shutdown', { codec: 'json' });
        await q.put('job');
        await q.shutdownAsync();
        const key = `${prefix}{raw-shutdown}:items`;
        assert.equal(await admin.lpop(key), '"job"');
        const sentinel = await admin.lpopBuffer(key);
        assert.equal(sentinel![0], 0, 'the sentinel starts with a NUL byte');
        await admin.rpush(key, sentinel!); // what docs/REDIS.md tells a raw consumer to do
        await assert.rejects(q.get({ timeout: 2000 }), { name: 'ShutDown' });
      }));
  });

  describe('handles: a RedisQueue travels to threads and processes', () => {
    for (const startMethod of ['thread', 'spawn'] as const) {
      it(`in Process args it arrives connected to the same queue, with its name, maxsize and options (${startMethod})`, () =>
        scoped(async ({ open, openJoinable }) => {
          const q = await open<unknown>('to-child', { maxsize: 5 });
          const out = await open<unknown>('from-child');
          const p = new Process({
            target: 'describeAndEcho',
            module: TARGETS,
            args: [q, out, 4],
            startMethod,
          });
          p.start();
          assert.deepEqual(await out.get({ timeout: 20_000 }), {
            tag: '[object RedisQueue]',
            name: 'to-child',
            maxsize: 5,
            reliable: false,
          });
          const items = ['消息', '\uD800', { deep: [1n, new Date(3)] }, new Map([[1, new Set([2])]])];
          await q.putMany(items);
          for (const item of items) assert.deepStrictEqual(await out.get({ timeout: 20_000 }), item);
          await p.join(20_000);
          assert.equal(p.exitCode, 0);
          const jq = await openJoinable<unknown>('jobs-to-child', { codec: 'json', heartbeatMs: 2000 });
          const p2 = new Process({
            target: 'describeAndEcho',
            module: TARGETS,
            args: [jq, out, 1],
            startMethod,
          });
          p2.start();
          assert.deepEqual(await out.get({ timeout: 20_000 }), {
            tag: '[object RedisJoinableQueue]',
            name: 'jobs-to-child',
            maxsize: 0,
            reliable: true,
          });
          await jq.put({ json: ['kept'] });
          assert.deepEqual(await out.get({ timeout: 20_000 }), { json: ['kept'] });
          await p2.join(20_000);
          assert.equal(p2.exitCode, 0);
        }));
    }

    it('inside an item of a shared-memory Queue or of a RedisQueue it arrives attached', () =>
      scoped(async ({ open }) => {
        const target = await open<string>('carried');
        const shm = new Queue<{ q: typeof target }>();
        shm.putNowait({ q: target });
        const viaShm = shm.getNowait().q;
        await viaShm.put('via shared memory');
        assert.equal(await target.get({ timeout: 2000 }), 'via shared memory');
        const carrier = await open<{ list: (typeof target)[] }>('carrier');
        await carrier.put({ list: [target] });
        const viaRedis = (await carrier.get({ timeout: 2000 })).list[0]!;
        assert.equal(Object.prototype.toString.call(viaRedis), '[object RedisQueue]');
        viaRedis.putSync('via Redis');
        assert.equal(await target.get({ timeout: 2000 }), 'via Redis');
        for (const copy of [viaShm, viaRedis]) {
          copy.close();
          await copy.joinThread();
        }
      }));

    it('one that cannot travel (a custom codec is code) fails at start() and put() with a TypeError that says why', () =>
      scoped(async ({ open }) => {
        const codec = {
          encode: (x: unknown) => Buffer.from(JSON.stringify(x)),
          decode: (b: Uint8Array) => JSON.parse(Buffer.from(b).toString()),
        };
        const q = await open<unknown>('custom-codec', { codec });
        const says = (e: unknown) =>
          e instanceof TypeError && /custom `codec`.*cannot be sent/.test(e.message);
        for (const startMethod of ['thread', 'spawn'] as const) {
          const p = new Process({ target: 'describeAndEcho', module: TARGETS, args: [q, q, 0], startMethod });
          assert.throws(() => p.start(), says, startMethod);
          assert.equal(p.pid, undefined, 'nothing started');
        }
        const shm = new Queue<unknown>();
        shm.putNowait('kept');
        assert.throws(() => shm.putNowait({ q }), says);
        await assert.rejects(shm.put([q]), says);
        const carrier = await open<unknown>('carrier');
        await assert.rejects(carrier.put({ q }), says);
        assert.equal(await carrier.qsizeAsync(), 0);
        assert.deepEqual(shm.getManySync(5), ['kept']);
        // The queue itself still works.
        await q.put({ a: 1 });
        assert.deepEqual(await q.get({ timeout: 2000 }), { a: 1 });
      }));
  });

  describe('at-least-once delivery for RedisJoinableQueue', () => {
    it('consumers SIGKILLed mid-task: every task is done at least once, none lost, join() returns', () =>
      scoped(async ({ open, openJoinable }) => {
        const n = Number(process.env.PROCQ_REDIS_TASKS ?? 120);
        const heartbeatMs = 600;
        // No `reliable` option: at least once is the default of a joinable queue.
        const jobs = await openJoinable<number>('farm', { heartbeatMs });
        assert.notEqual(jobs.consumerId, undefined, 'reliable by default');
        const log = await open<string>('farm-log');
        await jobs.putMany(Array.from({ length: n }, (_, i) => i));
        // w0 and w1 stall on their first task (a minute's work) and are SIGKILLed holding it; w2 and w3 work.
        const workers = ['w0', 'w1', 'w2', 'w3'].map((me, i) => {
          const workMs = i < 2 ? 60_000 : 10;
          const p = new Process({
            target: 'slowWorker',
            module: TARGETS,
            args: [jobs, log, me, workMs],
            startMethod: 'spawn',
          });
          p.start();
          return { me, p };
        });
        const lines: string[] = [];
        const held = new Map<string, number>();
        const doneAt = new Map<number, number>();
        const read = async (timeout = 20_000): Promise<void> => {
          const line = await log.get({ timeout });
          lines.push(line);
          const [what, me, task] = line.split(':');
          if (what === 'start' && (me === 'w0' || me === 'w1')) held.set(me, Number(task));
          if (what === 'done' && !doneAt.has(Number(task))) doneAt.set(Number(task), performance.now());
        };
        while (held.size < 2) await read();
        const killedAt = performance.now();
        for (const { p } of workers.slice(0, 2)) process.kill(p.pid!, 'SIGKILL');
        const joined = jobs.join({ timeout: 60_000 });
        let finished = false;
        void joined.finally(() => {
          finished = true;
        });
        while (!finished) {
          try {
            await read(50);
          } catch (err) {
            if (!(err instanceof Error) || err.name !== 'Empty') throw err;
          }
        }
        assert.equal(await joined, true, 'join() returned: every task done');
        while ((await log.qsizeAsync()) > 0) await read();
        const done = new Map<number, string[]>();
        for (const line of lines) {
          const [what, me, task] = line.split(':');
          if (what === 'done') done.set(Number(task), [...(done.get(Number(task)) ?? []), me!]);
        }
        const lost = Array.from({ length: n }, (_, i) => i).filter((i) => !done.has(i));
        assert.deepEqual(lost, [], 'tasks never done');
        // Redelivery is bounded by heartbeatMs plus a third of it (the recovering client's heartbeat period), plus
        // the survivors' own queue of tasks ahead of the returned ones and a loaded machine's slack.
        for (const [victim, task] of held) {
          assert.deepEqual(done.get(task)?.includes(victim), false, `${victim} never finished task ${task}`);
          const after = doneAt.get(task)! - killedAt;
          assert.ok(
            after < heartbeatMs * (4 / 3) + 10_000,
            `task ${task} of ${victim} was done ${after} ms after the kill`,
          );
        }
        await jobs.shutdownAsync();
        for (const { p } of workers) await p.join(20_000);
        for (const { me, p } of workers.slice(2)) assert.equal(p.exitCode, 0, `${me} ended on ShutDown`);
      }));

    it('a plain RedisQueue stays at most once unless reliable: true', () =>
      scoped(async ({ open }) => {
        const plain = await open<string>('plain-default');
        assert.equal(plain.consumerId, undefined);
        const reliable = await open<string>('plain-reliable', { reliable: true });
        assert.notEqual(reliable.consumerId, undefined);
      }));
  });
});
