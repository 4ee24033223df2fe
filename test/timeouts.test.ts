// One rule for timeouts across queue, pipe, process, pool and sync (Python's multiprocessing): a negative timeout
// is a wait of zero (look once, do not wait), NaN is a RangeError, a non-number a TypeError; `undefined`/`null`/
// `Infinity` wait forever.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Barrier,
  Condition,
  Empty,
  Event,
  Full,
  JoinableQueue,
  Lock,
  Pipe,
  Pool,
  Process,
  Queue,
  RLock,
  Semaphore,
  TimeoutError,
} from '../src/index.js';

const TARGETS = new URL('./fixtures/api-targets.js', import.meta.url);
const NEGATIVE = [-1, -1000, Number.NEGATIVE_INFINITY];

/** Settles within `ms`, or fails: a negative timeout must never wait. */
async function quickly<T>(p: Promise<T>, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('negative timeouts are 0 everywhere', () => {
  test('Queue: get/put look once (Empty / Full at once), item there: taken / put', async () => {
    const q = new Queue<number>(1);
    for (const t of NEGATIVE) {
      assert.throws(() => q.getSync({ timeout: t }), Empty);
      await assert.rejects(quickly(q.get({ timeout: t })), Empty);
      await assert.rejects(quickly(q.getMany(3, { timeout: t })), Empty);
      q.putSync(1, { timeout: t });
      assert.throws(() => q.putSync(2, { timeout: t }), Full);
      await assert.rejects(quickly(q.put(2, { timeout: t })), Full);
      assert.equal(q.getSync({ timeout: t }), 1);
    }
    assert.throws(() => q.getSync({ timeout: Number.NaN }), RangeError);
    await assert.rejects(q.get({ timeout: Number.NaN }), RangeError);
    assert.throws(() => q.getSync({ timeout: '1' as never }), TypeError);
    q.close();
  });

  test('JoinableQueue.join: false at once while tasks are unfinished', async () => {
    const q = new JoinableQueue<number>();
    q.putSync(1);
    for (const t of NEGATIVE) {
      assert.equal(q.joinSync({ timeout: t }), false);
      assert.equal(await quickly(q.join({ timeout: t })), false);
    }
    q.getSync();
    q.taskDone();
    assert.equal(await q.join({ timeout: -1 }), true);
  });

  test('Connection: poll(-1) is poll(0); recv with a negative timeout is a TimeoutError at once', async () => {
    const [a, b] = Pipe<string>();
    for (const t of NEGATIVE) {
      assert.equal(b.pollSync(t), false);
      assert.equal(await quickly(b.poll(t)), false);
      assert.equal(await quickly(b.poll({ timeout: t })), false);
      assert.throws(() => b.recvSync({ timeout: t }), TimeoutError);
      await assert.rejects(quickly(b.recv({ timeout: t })), TimeoutError);
    }
    a.send('x');
    assert.equal(await b.poll(-1), true);
    assert.equal(await b.recv({ timeout: -1 }), 'x');
    await assert.rejects(b.poll(Number.NaN), RangeError);
    a.close();
    b.close();
  });

  test('Lock, RLock, Semaphore: acquire with a negative timeout tries once', async () => {
    for (const make of [() => new Lock(), () => new RLock(), () => new Semaphore(1)]) {
      const held = make();
      assert.equal(held.acquireSync({ timeout: -1 }), true, 'free: taken');
      if (!(held instanceof RLock)) {
        assert.equal(held.acquireSync({ timeout: -1 }), false, 'held: not taken, no wait');
        assert.equal(await quickly(held.acquire({ timeout: Number.NEGATIVE_INFINITY })), false);
      }
      held.release();
      assert.throws(() => held.acquireSync({ timeout: Number.NaN }), RangeError);
    }
  });

  test('Event, Condition, Barrier: a negative timeout does not wait', async () => {
    const e = new Event();
    assert.equal(e.waitSync(-1), false);
    assert.equal(await quickly(e.wait(-1)), false);
    e.set();
    assert.equal(e.waitSync(-1), true);

    const c = new Condition();
    c.acquireSync();
    assert.equal(c.waitSync(-1), false);
    assert.equal(await quickly(c.wait(-1)), false);
    c.release();

    const b = new Barrier(2);
    await assert.rejects(quickly(b.wait(-1)), { name: 'BrokenBarrierError' });
  });

  test('Process.join(-1) returns at once while the child runs', async () => {
    const p = new Process({
      target: 'sleepFor',
      args: [10_000],
      module: TARGETS,
      startMethod: 'thread',
    });
    p.start();
    await quickly(p.join(-1));
    assert.equal(p.isAlive(), true);
    await assert.rejects(p.join(Number.NaN), RangeError);
    p.terminate();
    await p.join();
  });

  test('AsyncResult.get(-1): TimeoutError at once while the work runs', async () => {
    await using pool = new Pool({ processes: 1, startMethod: 'thread' });
    const r = pool.applyAsync({ module: TARGETS, name: 'sleepFor' }, [300]);
    await assert.rejects(quickly(r.get(-1)), TimeoutError);
    await quickly(r.wait(-1));
    await r.get();
  });
});
