// Managers: CPython's _TestContainers, _TestManagerRestart and _TestRemoteManager ported, proxies shared with
// children (both start methods), user types (BaseManager.register), and a dead manager (typed errors, no hang).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, afterEach, before, describe, test } from 'node:test';
import { AuthenticationError, BrokenBarrierError, Empty, ManagerGoneError } from '../src/errors.js';
import { activeChildren, Process, Queue, type StartMethod, setStartMethod } from '../src/index.js';
import {
  type BaseProxy,
  type DictProxy,
  type ListProxy,
  Manager,
  type QueueProxy,
} from '../src/manager/index.js';
import { loadNative } from '../src/native/index.js';
import { QueueManager, QueueManager2, VALUES } from './fixtures/manager-targets.js';
import { PROCESS_METHOD } from './helpers/util.js';

const TARGETS = new URL('./fixtures/manager-targets.js', import.meta.url);
const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';
const METHODS: StartMethod[] = canSpawn ? [PROCESS_METHOD, 'thread'] : ['thread'];
// Without the native addon, managers (and the children of tests that do not name a start method) run in threads.
if (!canSpawn) setStartMethod('thread');

afterEach(async () => {
  const left = activeChildren().filter((p) => !p.name.includes('Manager'));
  for (const p of left) p.kill();
  await Promise.all(left.map((p) => p.join()));
  assert.deepEqual(
    left.map((p) => p.name),
    [],
    'a test left children running',
  );
});

for (const startMethod of METHODS) {
  describe(`_TestContainers (server: ${startMethod})`, () => {
    let manager: Manager;
    before(async () => {
      manager = await new Manager({ startMethod }).start();
    });
    after(async () => {
      await manager.shutdown();
      assert.equal(manager.process?.exitCode, 0, 'the server process ends cleanly at shutdown');
    });

    test('test_list', async () => {
      const a = await manager.list(Array.from({ length: 10 }, (_, i) => i));
      assert.deepEqual(await a.slice(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const b = await manager.list();
      assert.deepEqual(await b.slice(), []);
      await b.extend([0, 1, 2, 3, 4]);
      assert.deepEqual(await b.slice(), [0, 1, 2, 3, 4]);
      assert.equal(await b.get(2), 2);
      assert.deepEqual(await b.slice(2, 10), [2, 3, 4]);
      await b.extend(await b.copy()); // b *= 2
      assert.deepEqual(await b.copy(), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
      const e = await manager.list([a, b]);
      const inner = (await e.copy()) as ListProxy[];
      assert.deepEqual(await Promise.all(inner.map((x) => x.copy())), [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [0, 1, 2, 3, 4, 0, 1, 2, 3, 4],
      ]);
      const f = await manager.list([a]);
      await a.append('hello');
      assert.deepEqual(await ((await f.get(0)) as ListProxy).copy(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'hello']);
      await assert.rejects(a.get(20), RangeError);
      assert.equal(await a.pop(), 'hello');
      await a.insert(0, -1);
      assert.equal(await a.index(-1), 0);
      assert.equal(await a.count(3), 1);
      await a.remove(-1);
      await a.reverse();
      assert.equal(await a.get(0), 9);
      await a.sort();
      assert.equal(await a.get(-1), 9);
      assert.equal(await a.length(), 10);
    });

    test('test_list_proxy_in_list', async () => {
      const a = await manager.list(await Promise.all([0, 1, 2].map(() => manager.list([0, 1, 2]))));
      const at = async (i: number) => (await a.get(i)) as ListProxy;
      await (await at(0)).set(-1, 55);
      assert.deepEqual(await (await at(0)).copy(), [0, 1, 55]);
      for (const i of [1, 2]) assert.deepEqual(await (await at(i)).copy(), [0, 1, 2]);
      assert.equal(await (await at(1)).pop(), 2);
      assert.equal(await (await at(1)).length(), 2);
    });

    test('test_dict', async () => {
      const d = await manager.dict();
      const indices = [65, 66, 67, 68, 69];
      for (const i of indices) await d.set(i, String.fromCharCode(i));
      assert.deepEqual(await d.copy(), new Map(indices.map((i) => [i, String.fromCharCode(i)])));
      assert.deepEqual(((await d.keys()) as number[]).sort(), indices);
      assert.deepEqual(
        ((await d.values()) as string[]).sort(),
        indices.map((i) => String.fromCharCode(i)),
      );
      assert.deepEqual(
        await d.items(),
        indices.map((i) => [i, String.fromCharCode(i)]),
      );
      await assert.rejects(d.getitem(1), { name: 'KeyError' });
      assert.equal(await d.get(1), null);
      assert.equal(await d.get(1, 'default'), 'default');
      assert.equal(await d.pop(65), 'A');
      assert.equal(await d.setdefault(65, 'a'), 'a');
      assert.equal(await d.has(65), true);
      await d.delete(65);
      await assert.rejects(d.delete(65), { name: 'KeyError' });
      await d.update({ x: 1 });
      assert.equal(await d.get('x'), 1);
    });

    test('test_dict_proxy_nested', async () => {
      const pets = await manager.dict({ ferrets: 2, hamsters: 4 });
      const supplies = await manager.dict({ water: 10, feed: 3 });
      const d = await manager.dict({ pets, supplies });
      const sub = async (k: string) => (await d.getitem(k)) as DictProxy;
      assert.equal(await supplies.getitem('water'), 10);
      assert.equal(await (await sub('supplies')).getitem('water'), 10);
      await (await sub('supplies')).set('blankets', 5);
      assert.equal(await supplies.getitem('blankets'), 5);
      await (await sub('supplies')).set('water', 7);
      assert.equal(await supplies.getitem('water'), 7);
      assert.equal(await (await sub('pets')).getitem('ferrets'), 2);
      await d.clear();
      assert.equal(await d.length(), 0);
      assert.equal(await supplies.getitem('water'), 7);
      assert.equal(await pets.getitem('hamsters'), 4);
      const l = await manager.list([pets, supplies]);
      await ((await l.get(0)) as DictProxy).set('marmots', 1);
      assert.equal(await pets.getitem('marmots'), 1);
      const outer = await manager.list([[88, 99], l]);
      assert.deepEqual(await outer.get(0), [88, 99], 'a plain list stays a plain list');
      const last = (await ((await outer.get(-1)) as ListProxy).get(-1)) as DictProxy;
      assert.equal(await last.getitem('feed'), 3);
    });

    test('test_nested_queue', async () => {
      const a = await manager.list();
      await a.append(await manager.Queue());
      await ((await a.get(0)) as QueueProxy).put(123);
      assert.equal(await ((await a.get(0)) as QueueProxy).get(), 123);
      const b = await manager.dict();
      await b.set(0, await manager.Queue());
      await ((await b.getitem(0)) as QueueProxy).put(456);
      assert.equal(await ((await b.getitem(0)) as QueueProxy).get(), 456);
    });

    test('test_namespace', async () => {
      const n = await manager.Namespace();
      await n.set('name', 'Bob');
      await n.set('job', 'Builder');
      await n.set('_hidden', 'hidden');
      assert.equal(await n.get('name'), 'Bob');
      assert.deepEqual(await n.toObject(), { name: 'Bob', job: 'Builder', _hidden: 'hidden' });
      await n.delete('job');
      await assert.rejects(n.get('job'), { name: 'AttributeError' });
    });

    test('Queue, Value, Array, Event, Semaphore, Lock, RLock, Condition, Barrier through proxies', async () => {
      const q = await manager.Queue<number>(1);
      await q.put(1);
      await assert.rejects(q.putNowait(2), { name: 'Full' });
      assert.equal(await q.qsize(), 1);
      assert.equal(await q.get(), 1);
      await assert.rejects(q.get({ timeout: 20 }), Empty);
      const jq = await manager.JoinableQueue<number>();
      await jq.put(5);
      assert.equal(await jq.get(), 5);
      await jq.taskDone();
      assert.equal(await jq.join(), true, 'every task done');

      const v = await manager.Value('i', 7);
      assert.equal(await v.get(), 7);
      await v.set(8);
      assert.equal(await v.get(), 8);
      const arr = await manager.Array('i', [1, 2, 3]);
      await arr.set(0, 9);
      assert.deepEqual(await arr.copy(), [9, 2, 3]);
      assert.equal(await arr.length(), 3);

      const ev = await manager.Event();
      assert.equal(await ev.isSet(), false);
      assert.equal(await ev.wait(20), false);
      const waiting = ev.wait();
      await ev.set();
      assert.equal(await waiting, true);

      const sem = await manager.Semaphore(2);
      assert.equal(await sem.acquire(), true);
      assert.equal(await sem.acquire(), true);
      assert.equal(await sem.acquire({ timeout: 20 }), false);
      await sem.release();
      assert.equal(await sem.getValue(), 1);
      const bsem = await manager.BoundedSemaphore(1);
      await assert.rejects(bsem.release(), RangeError);

      const lock = await manager.Lock();
      assert.equal(await lock.acquire(), true);
      assert.equal(await lock.acquire({ block: false }), false);
      await lock.release();
      await assert.rejects(lock.release(), RangeError);

      const rlock = await manager.RLock();
      assert.equal(await rlock.acquire(), true);
      assert.equal(await rlock.acquire(), true, 'reentrant for the same client');
      await rlock.release();
      await rlock.release();
      await assert.rejects(rlock.release(), RangeError);

      const cond = await manager.Condition();
      await cond.acquire();
      assert.equal(await cond.wait(20), false);
      await cond.release();

      const barrier = await manager.Barrier(2);
      assert.deepEqual((await Promise.all([barrier.wait(), barrier.wait()])).sort(), [0, 1]);
      await assert.rejects(barrier.wait(20), BrokenBarrierError);
      assert.equal(await barrier.broken(), true);
    });

    for (const childMethod of METHODS) {
      test(`proxies passed in Process args are the same objects (child: ${childMethod})`, async () => {
        const d = await manager.dict();
        const l = await manager.list();
        const ns = await manager.Namespace();
        const q = await manager.Queue<string>();
        const lock = await manager.Lock();
        const children = [0, 1].map(
          () =>
            new Process({
              target: 'useProxies',
              module: TARGETS,
              args: [d, l, ns, q, lock, 5],
              startMethod: childMethod,
            }),
        );
        for (const p of children) p.start();
        assert.deepEqual(
          [await q.get({ timeout: 30_000 }), await q.get({ timeout: 30_000 })],
          ['done', 'done'],
        );
        for (const p of children) await p.join();
        assert.deepEqual(
          children.map((p) => p.exitCode),
          [0, 0],
        );
        assert.equal(await d.get('count'), 10, 'the lock kept the read-modify-writes whole');
        assert.equal(await l.length(), 10);
        assert.equal(await ns.get('from'), 'child');
      });
    }

    test('a proxy travels inside a procq Queue item', async () => {
      const d = await manager.dict();
      const q = new Queue<{ d: DictProxy }>();
      await q.put({ d });
      const { d: d2 } = await q.get();
      await d2.set('k', 'v');
      assert.equal(await d.get('k'), 'v');
    });
  });
}

describe('BaseManager.register: user types', () => {
  test('a registered class: its public methods are exposed, errors come back as their class', async () => {
    await using m = await new QueueManager().start();
    const c = (await m.create('Counter', 5)) as BaseProxy & {
      increment(by?: number): Promise<number>;
      value(): Promise<number>;
      fail(): Promise<never>;
    };
    assert.equal(await c.increment(), 6);
    assert.equal(await c.increment(4), 10);
    assert.equal(await c._callMethod('value'), 10);
    await assert.rejects(c.fail(), { name: 'RangeError', message: 'counter failed on purpose' });
    await assert.rejects(c._callMethod('_hidden'), TypeError);
    await assert.rejects(m.create('nothing'), TypeError);
    const viaMethod = (m as unknown as { Counter(n: number): Promise<typeof c> }).Counter;
    assert.equal(typeof viaMethod, 'function', 'register adds a method named as the typeid');
  });

  test('bad registrations are TypeErrors at the call', () => {
    class M extends QueueManager {}
    assert.throws(() => M.register('not an id', { callable: 'x', module: TARGETS }), TypeError);
    assert.throws(() => M.register('x', { callable: 42 as never }), TypeError);
  });
});

describe('_TestRemoteManager', () => {
  for (const startMethod of METHODS) {
    test(`test_remote (${startMethod})`, async () => {
      const authkey = crypto.getRandomValues(new Uint8Array(32));
      const manager = await new QueueManager({ address: ['127.0.0.1', 0], authkey, startMethod }).start();
      try {
        const p = new Process({
          target: 'putter',
          module: TARGETS,
          args: [manager.address, authkey],
          startMethod,
          daemon: true,
        });
        p.start();
        const manager2 = await QueueManager2.connect(manager.address!, { authkey });
        const queue = (await manager2.create('get_queue')) as QueueProxy;
        assert.deepEqual(await queue.get({ timeout: 30_000 }), VALUES);
        await assert.rejects(
          queue.put(() => {}),
          TypeError,
          'a function does not clone',
        );
        await p.join();
        assert.equal(p.exitCode, 0);
      } finally {
        await manager.shutdown();
      }
    });
  }

  test('a wrong authkey is an AuthenticationError', async () => {
    await using manager = await new QueueManager({ address: ['127.0.0.1', 0], authkey: 'right' }).start();
    await assert.rejects(QueueManager2.connect(manager.address!, { authkey: 'wrong' }), AuthenticationError);
  });

  test('serveForever: a server in this process, shut down by a client', async () => {
    const server = new QueueManager({ address: ['127.0.0.1', 0], authkey: 'k' });
    let listening!: (a: unknown) => void;
    const address = new Promise((r) => (listening = r));
    const served = server.serveForever(listening);
    const client = await QueueManager.connect((await address) as [string, number], { authkey: 'k' });
    const c = (await client.create('Counter', 1)) as BaseProxy & { increment(): Promise<number> };
    assert.equal(await c.increment(), 2);
    await client.shutdown();
    await served;
    await assert.rejects(c.increment(), ManagerGoneError);
  });
});

describe('_TestManagerRestart', () => {
  test('test_rapid_restart: a new manager on the address of one just shut down', async () => {
    const authkey = crypto.getRandomValues(new Uint8Array(32));
    const manager = await new QueueManager({ address: ['127.0.0.1', 0], authkey }).start();
    const addr = manager.address!;
    try {
      const p = new Process({ target: 'putHello', module: TARGETS, args: [addr, authkey] });
      p.start();
      await p.join();
      assert.equal(p.exitCode, 0);
      const queue = (await manager.create('get_queue')) as QueueProxy;
      assert.equal(await queue.get(), 'hello world');
    } finally {
      await manager.shutdown();
    }
    const again = await new QueueManager({ address: addr, authkey }).start();
    try {
      const queue = (await again.create('get_queue')) as QueueProxy;
      await queue.put('second life');
      assert.equal(await queue.get(), 'second life');
    } finally {
      await again.shutdown();
    }
  });
});

describe('a manager that is gone', () => {
  test('shut down: calls fail with ManagerGoneError; create too', async () => {
    const m = await new Manager().start();
    const d = await m.dict();
    await m.shutdown();
    await m.shutdown(); // idempotent
    await assert.rejects(d.get('x'), ManagerGoneError);
    await assert.rejects(m.dict(), ManagerGoneError);
  });

  for (const family of ['AF_UNIX', 'AF_INET'] as const) {
    test(`killed (${family}): a pending call and later calls fail with ManagerGoneError, never hang`, async () => {
      const m = await new Manager(family === 'AF_INET' ? { address: ['127.0.0.1', 0] } : {}).start();
      const q = await m.Queue();
      const d = await m.dict();
      const pending = q.get(); // waits on the server
      m.process!.kill();
      await assert.rejects(pending, ManagerGoneError);
      await assert.rejects(d.get('x'), ManagerGoneError);
      await m.process!.join();
      if (family === 'AF_UNIX') {
        await new Promise((r) => setImmediate(r));
        assert.equal(existsSync(m.address as string), false, 'the socket file of a killed server is removed');
      }
    });
  }

  test('not started: a clear error', async () => {
    const m = new Manager();
    await assert.rejects(m.dict(), { name: 'ProcessError' });
    await m.shutdown();
  });
});
