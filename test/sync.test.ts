// Lock, RLock, Semaphore, Event, Condition, Barrier, Value, SharedArray: their semantics in one thread, then the
// cross-thread / cross-process suite, written once and installed for both start methods (CPython's style).
// Peers coordinate through shared objects, never through sleeps; every wait is bounded.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { handleOf, reviveHandle } from '../src/codec/handles.js';
import { activeChildren, NotOwnerError, Process, type StartMethod } from '../src/index.js';
import { loadNative } from '../src/native/index.js';
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
  SharedArray,
  Value,
} from '../src/sync/index.js';
import { PROCESS_METHOD } from './helpers/util.js';

const TARGETS = new URL('./fixtures/sync-targets.js', import.meta.url);
const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';
/** Without the native addon, whether a thread is alive cannot be told: no dead-owner recovery. */
const noLiveness = loadNative() === null && 'no native addon: liveness of a holder cannot be told';

afterEach(async () => {
  const left = activeChildren();
  for (const p of left) p.kill();
  await Promise.all(left.map((p) => p.join()));
  assert.deepEqual(
    left.map((p) => p.name),
    [],
    'a test left children running',
  );
});

const aborted = (reason: unknown) => (err: unknown) => {
  const e = err as { name?: string; code?: string; cause?: unknown };
  return e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause === reason;
};

/** Waits (event-loop turns, bounded by `ms`) until `cond()` holds; fails the test when it never does. */
async function until(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    assert.ok(performance.now() < deadline, 'the condition never held');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves when `p` settles, with whether it did within this turn of the event loop's microtasks. */
async function settledNow(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 20; i++) await null;
  return done;
}

describe('Lock (one thread)', () => {
  test('acquire / release, block:false, timeout, locked()', async () => {
    const lock = new Lock();
    assert.equal(lock.locked(), false);
    assert.equal(lock.acquireSync(), true);
    assert.equal(lock.locked(), true);
    assert.equal(lock.acquireSync({ block: false }), false);
    assert.equal(await lock.acquire({ block: false, timeout: 10_000 }), false, 'block:false ignores timeout');
    const t0 = performance.now();
    assert.equal(lock.acquireSync({ timeout: 30 }), false);
    assert.ok(performance.now() - t0 >= 25);
    assert.equal(await lock.acquire({ timeout: 30 }), false);
    lock.release();
    assert.equal(await lock.acquire({ timeout: 0 }), true);
    lock.release();
    assert.throws(() => lock.release(), RangeError);
  });

  test('an async waiter gets the lock when it is released; abort rejects with AbortError and takes nothing', async () => {
    const lock = new Lock();
    lock.acquireSync();
    const waiting = lock.acquire({ timeout: 10_000 });
    assert.equal(await settledNow(waiting), false);
    lock.release();
    assert.equal(await waiting, true);
    const ac = new AbortController();
    const pending = lock.acquire({ signal: ac.signal });
    ac.abort('stop');
    await assert.rejects(pending, aborted('stop'));
    lock.release();
    assert.equal(lock.locked(), false, 'the aborted acquire took nothing');
    await assert.rejects(lock.acquire({ signal: AbortSignal.abort('x') }), aborted('x'));
  });

  test('argument errors: thrown by Sync forms, rejected (never thrown) by async forms', async () => {
    const lock = new Lock();
    assert.throws(() => lock.acquireSync({ timeout: Number.NaN }), RangeError);
    assert.throws(() => lock.acquireSync({ block: 'no' as never }), TypeError);
    assert.throws(() => lock.acquireSync({ signal: new AbortController().signal } as never), TypeError);
    let p: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      p = lock.acquire({ timeout: Number.NaN });
    });
    await assert.rejects(p!, RangeError);
    assert.throws(() => new Lock({ robust: 1 } as never), TypeError);
    assert.equal(lock.locked(), false);
  });

  test('using: released at the end of the scope', () => {
    const lock = new Lock();
    {
      lock.acquireSync();
      using _held = lock;
      assert.equal(lock.locked(), true);
    }
    assert.equal(lock.locked(), false);
  });
});

describe('RLock (one thread)', () => {
  test('re-entrant; released after as many releases; release without owning throws', async () => {
    const r = new RLock();
    assert.throws(() => r.release(), NotOwnerError);
    assert.equal(r.acquireSync(), true);
    assert.equal(await r.acquire({ block: false }), true);
    assert.equal(r.acquireSync({ timeout: 0 }), true);
    r.release();
    r.release();
    assert.equal(r._isOwned(), true);
    r.release();
    assert.equal(r._isOwned(), false);
    assert.throws(() => r.release(), NotOwnerError);
  });
});

describe('Semaphore and BoundedSemaphore (one thread)', () => {
  test('counts; block:false and timeout; release(n) wakes waiters', async () => {
    const s = new Semaphore(2);
    assert.equal(s.getValue(), 2);
    assert.equal(s.acquireSync(), true);
    assert.equal(await s.acquire(), true);
    assert.equal(s.acquireSync({ block: false }), false);
    assert.equal(await s.acquire({ timeout: 20 }), false);
    const a = s.acquire({ timeout: 10_000 });
    const b = s.acquire({ timeout: 10_000 });
    s.release(2);
    assert.deepEqual(await Promise.all([a, b]), [true, true]);
    assert.equal(s.getValue(), 0);
    s.release();
    s.release();
    s.release();
    assert.equal(s.getValue(), 3, 'an unbounded semaphore goes above its initial value');
    assert.equal(new Semaphore().getValue(), 1);
    assert.equal(new Semaphore(0).acquireSync({ block: false }), false);
    assert.throws(() => new Semaphore(-1), RangeError);
    assert.throws(() => new Semaphore(1.5), RangeError);
    assert.throws(() => new Semaphore('1' as never), TypeError);
    assert.throws(() => s.release(0), RangeError);
  });

  test('BoundedSemaphore: release above the initial value is a RangeError and changes nothing', () => {
    const b = new BoundedSemaphore(2);
    assert.throws(() => b.release(), RangeError);
    b.acquireSync();
    assert.throws(() => b.release(2), RangeError);
    assert.equal(b.getValue(), 1);
    b.release();
    assert.equal(b.getValue(), 2);
    assert.ok(b instanceof Semaphore);
  });

  test('an aborted acquire takes nothing; the next waiter still gets the unit', async () => {
    const s = new Semaphore(0);
    const ac = new AbortController();
    const first = s.acquire({ signal: ac.signal });
    const second = s.acquire({ timeout: 10_000 });
    ac.abort('bye');
    await assert.rejects(first, aborted('bye'));
    s.release();
    assert.equal(await second, true);
    assert.equal(s.getValue(), 0);
  });
});

describe('Event (one thread)', () => {
  test('set / clear / isSet; wait returns true when set, false on timeout', async () => {
    const e = new Event();
    assert.equal(e.isSet(), false);
    assert.equal(e.waitSync(0), false);
    assert.equal(await e.wait(20), false);
    assert.equal(await e.wait({ timeout: 0 }), false);
    const waiting = e.wait();
    assert.equal(await settledNow(waiting), false);
    e.set();
    assert.equal(await waiting, true);
    assert.equal(e.isSet(), true);
    assert.equal(e.waitSync(), true);
    e.clear();
    assert.equal(e.isSet(), false);
    assert.equal(e.waitSync(-5), false, 'a negative timeout is 0');
    assert.throws(() => e.waitSync(Number.NaN), RangeError);
    await assert.rejects(e.wait('x' as never), TypeError);
  });

  test('a waiter waiting when set() is called returns true even if clear() follows at once', async () => {
    const e = new Event();
    const waiting = e.wait(10_000);
    await settledNow(waiting);
    e.set();
    e.clear();
    assert.equal(await waiting, true);
  });

  test('abort rejects with AbortError', async () => {
    const e = new Event();
    const ac = new AbortController();
    const w = e.wait({ signal: ac.signal });
    ac.abort('r');
    await assert.rejects(w, aborted('r'));
  });
});

describe('Condition (one thread, async waiters)', () => {
  test('wait / notify require the lock', async () => {
    const c = new Condition();
    assert.throws(() => c.notify(), NotOwnerError);
    assert.throws(() => c.notifyAll(), NotOwnerError);
    assert.throws(() => c.waitSync(0), NotOwnerError);
    await assert.rejects(c.wait(0), NotOwnerError);
    assert.throws(() => new Condition({} as never), TypeError);
  });

  test('wait times out with the lock held again (RLock depth restored)', async () => {
    const c = new Condition();
    c.acquireSync();
    c.acquireSync();
    assert.equal(c.waitSync(20), false);
    assert.equal(await c.wait(20), false);
    c.release();
    c.release();
    assert.throws(() => c.release(), NotOwnerError, 'depth 2 was restored, then released twice');
  });

  test('notify(n) wakes at most n waiters, oldest first; notifyAll the rest', async () => {
    const c = new Condition(new Lock());
    const woken: number[] = [];
    const waiter = async (id: number) => {
      await c.acquire();
      try {
        assert.equal(await c.wait(10_000), true);
        woken.push(id);
      } finally {
        c.release();
      }
    };
    const all = [waiter(1), waiter(2), waiter(3)];
    // Each waiter takes the lock, takes a ticket, and releases the lock: wait until all three hold tickets.
    await until(() => ticketsTaken(c, 3));
    await c.acquire();
    c.notify(1);
    c.release();
    await until(() => woken.length >= 1);
    assert.deepEqual(woken, [1]);
    assert.equal(await ticketsTaken(c, 2), true, 'two waiters still wait');
    assert.equal(await ticketsTaken(c, 3), false);
    await c.acquire();
    c.notify(0);
    c.notifyAll();
    c.release();
    await Promise.all(all);
    assert.deepEqual(woken.sort(), [1, 2, 3]);
  });

  test('waitFor: the predicate first, after each notification, and on timeout', async () => {
    const c = new Condition();
    let ready = false;
    c.acquireSync();
    assert.equal(
      c.waitForSync(() => ready, 20),
      false,
    );
    assert.equal(await c.waitFor(() => 'yes'), 'yes');
    c.release();
    const waiting = (async () => {
      await c.acquire();
      try {
        return await c.waitFor(() => ready, 10_000);
      } finally {
        c.release();
      }
    })();
    await until(() => ticketsTaken(c, 1));
    await c.acquire();
    ready = true;
    c.notify();
    c.release();
    assert.equal(await waiting, true);
  });

  test('an aborted wait rejects with the lock held again and passes a notification on', async () => {
    const c = new Condition(new Lock());
    const ac = new AbortController();
    await c.acquire();
    const w = c.wait({ signal: ac.signal });
    ac.abort('why');
    await assert.rejects(w, aborted('why'));
    assert.equal(c.acquireSync({ block: false }), false, 'the lock is held again');
    c.release();
  });
});

/** Whether `n` waiters hold tickets of `c` (reads the Condition's words; test-only). */
async function ticketsTaken(c: Condition, n: number): Promise<boolean> {
  const state = (c as any)[Symbol.for('procq.handle')]().state;
  const { attachSegment } = await import('../src/memory/index.js');
  const i32 = attachSegment(state.segment).i32;
  return ((i32[state.base + 1]! - i32[state.base + 2]!) | 0) >= n;
}

describe('Barrier (one thread, async parties)', () => {
  test('3 parties: indexes 0..2, the action runs once per round, before anyone is released', async () => {
    let actions = 0;
    const b = new Barrier(3, () => actions++);
    assert.equal(b.parties, 3);
    for (let round = 0; round < 3; round++) {
      const got = await Promise.all([b.wait(10_000), b.wait(10_000), b.wait(10_000)]);
      assert.deepEqual([...got].sort(), [0, 1, 2]);
      assert.equal(actions, round + 1);
      assert.equal(b.nWaiting, 0);
    }
  });

  test('abort / timeout break it (BrokenBarrierError for all); reset makes it usable again', async () => {
    const b = new Barrier(2);
    const first = b.wait(10_000);
    await settledNow(first);
    assert.equal(b.nWaiting, 1);
    b.abort();
    await assert.rejects(first, BrokenBarrierError);
    assert.equal(b.broken, true);
    await assert.rejects(b.wait(10), BrokenBarrierError);
    b.reset();
    assert.equal(b.broken, false);
    await assert.rejects(b.wait(20), BrokenBarrierError, 'a timeout breaks the barrier');
    assert.equal(b.broken, true);
    b.reset();
    const waiting = b.wait(10_000);
    await settledNow(waiting);
    b.reset();
    await assert.rejects(waiting, BrokenBarrierError, 'reset() breaks the round in progress');
    assert.deepEqual((await Promise.all([b.wait(10_000), b.wait(10_000)])).sort(), [0, 1]);
    assert.throws(() => new Barrier(0), RangeError);
    assert.throws(() => new Barrier(2, 5 as never), TypeError);
  });

  test('an action that throws breaks the barrier: its error in the last party, BrokenBarrierError in the others', async () => {
    const b = new Barrier(2, () => {
      throw new Error('boom');
    });
    const first = b.wait(10_000);
    await settledNow(first);
    await assert.rejects(b.wait(10_000), /boom/);
    await assert.rejects(first, BrokenBarrierError);
  });

  test('copies elsewhere have no action: a waiting holder runs it, else the round completes with a warning', async () => {
    let actions = 0;
    const b = new Barrier(2, () => actions++);
    const copy = () => reviveHandle(handleOf(b)) as Barrier;
    const [c1, c2] = [copy(), copy()];
    const holder = b.wait(10_000);
    await settledNow(holder);
    assert.equal(
      await c1.wait(10_000),
      1,
      'the last arrival, without the action, hands it to the waiting holder',
    );
    assert.equal(await holder, 0);
    assert.equal(actions, 1);
    const warned = new Promise<Error & { code?: string }>((resolve) => process.once('warning', resolve));
    const first = c1.wait(10_000);
    await settledNow(first);
    assert.equal(await c2.wait(10_000), 1);
    assert.equal(await first, 0);
    assert.equal((await warned).code, 'PROCQ_BARRIER_ACTION');
    assert.equal(actions, 1);
  });

  test('the default timeout comes from the constructor', async () => {
    const b = new Barrier(2, null, 20);
    await assert.rejects(b.wait(), BrokenBarrierError);
  });
});

describe('Value and SharedArray (one thread)', () => {
  test('every typecode: init, get/set, wrap-around as ctypes, type errors', () => {
    for (const [code, v] of [
      ['b', -5],
      ['B', 200],
      ['h', -30000],
      ['H', 60000],
      ['i', -2e9],
      ['I', 4e9],
      ['f', 1.5],
      ['d', Math.PI],
    ] as const) {
      const x = new Value(code, v);
      assert.equal(x.value, v, code);
      x.value = 7;
      assert.equal(x.value, 7, code);
    }
    for (const code of ['l', 'L', 'q', 'Q'] as const) {
      const x = new Value(code, 5n);
      assert.equal(x.value, 5n);
      x.value = 2n ** 40n;
      assert.equal(x.value, 2n ** 40n);
      x.value = 3 as never;
      assert.equal(x.value, 3n);
    }
    assert.equal(new Value('i').value, 0);
    const wrap = new Value('B', 255);
    wrap.value = 256;
    assert.equal(wrap.value, 0);
    const f = new Value('f', 0.1);
    assert.equal(f.value, Math.fround(0.1));
    assert.throws(() => new Value('i', 1.5 as number), TypeError); // a literal 1.5 does not compile
    assert.throws(() => new Value('x' as never, 1 as never), TypeError);
    assert.throws(() => new Value('q', 1.5 as never), TypeError);
    assert.throws(() => {
      new Value('i').value = '1' as never;
    }, TypeError);
    assert.equal(String(new Value('i', 3)), "Value('i', 3)");
  });

  test('locks: an RLock by default, a given one, none with lock:false', () => {
    const v = new Value('d', 1);
    const lock = v.getLock();
    assert.ok(lock instanceof RLock);
    lock.acquireSync();
    v.value += 1; // re-entrant: the accessor may take the lock the caller holds
    lock.release();
    assert.equal(v.value, 2);
    const mine = new Lock();
    const w = new Value('d', 0, { lock: mine });
    assert.equal(w.getLock(), mine);
    mine.acquireSync();
    w.value = 5; // a plain Lock held by this thread: no self-deadlock
    mine.release();
    assert.equal(w.value, 5);
    const raw = new Value('i', 1, { lock: false });
    assert.throws(() => raw.getLock(), TypeError);
    raw.value = 4;
    assert.equal(raw.value, 4);
    assert.throws(() => new Value('i', 0, { lock: 'yes' as never }), TypeError);
  });

  test('SharedArray: from a size or elements; get/set with negative indexes; view; iteration; errors', () => {
    const a = new SharedArray('i', 4);
    assert.equal(a.length, 4);
    assert.deepEqual(a.toArray(), [0, 0, 0, 0]);
    a.set(0, 1);
    a.set(-1, 9);
    assert.equal(a.get(3), 9);
    assert.equal(a.get(-4), 1);
    assert.ok(a.view instanceof Int32Array);
    a.view[1] = 5;
    assert.deepEqual([...a], [1, 5, 0, 9]);
    assert.throws(() => a.get(4), RangeError);
    assert.throws(() => a.set(-5, 1), RangeError);
    assert.throws(() => a.get(1.5), TypeError);
    assert.throws(() => a.set(0, 1.5), TypeError);
    const d = new SharedArray('d', [1.5, 2.5]);
    assert.deepEqual(d.toArray(), [1.5, 2.5]);
    assert.ok(d.view instanceof Float64Array);
    const q = new SharedArray('Q', [1n, 2]);
    assert.deepEqual(q.toArray(), [1n, 2n]);
    assert.equal(new SharedArray('b', 0).length, 0);
    assert.throws(() => new SharedArray('i', -1), RangeError);
    assert.throws(() => new SharedArray('i', 'abc' as never), TypeError);
    assert.throws(() => new SharedArray('i', [1, 'x'] as never), TypeError);
  });
});

for (const method of ['thread', PROCESS_METHOD] as const satisfies readonly StartMethod[]) {
  describe(`across ${method === 'thread' ? 'threads' : 'processes'} (${method})`, {
    skip: method !== 'thread' && !canSpawn && 'no native addon',
  }, () => {
    const start = (target: string, args: unknown[]) => {
      const p = new Process({ target, args, module: TARGETS, startMethod: method });
      p.start();
      return p;
    };
    const joinAll = async (ps: Process[]) => {
      await Promise.all(ps.map((p) => p.join(20_000)));
      assert.deepEqual(
        ps.map((p) => p.exitCode),
        ps.map(() => 0),
      );
    };

    test('mutual exclusion: 2 children increment a Value N times each under a Lock; the count is exact', async () => {
      const n = method !== 'thread' ? 5000 : 20_000;
      const lock = new Lock();
      const counter = new Value('i', 0, { lock: false });
      await joinAll([
        start('incrementUnder', [lock, counter, n]),
        start('incrementUnder', [lock, counter, n]),
      ]);
      assert.equal(counter.value, 2 * n);
      assert.equal(lock.locked(), false);
    });

    test("mutual exclusion with the Value's own RLock, children and this thread (async) at once", async () => {
      const n = 2000;
      const counter = new Value('i', 0);
      const children = [
        start('incrementUnder', [counter.getLock(), counter, n]),
        start('incrementUnderAsync', [counter.getLock(), counter, n]),
      ];
      for (let i = 0; i < n; i++) {
        await counter.getLock().acquire();
        counter.value += 1;
        counter.getLock().release();
      }
      await joinAll(children);
      assert.equal(counter.value, 3 * n);
    });

    test('a Lock whose holder died is recovered by a waiter', { skip: noLiveness }, async () => {
      const lock = new Lock();
      const held = new Event();
      const p = start('holdForever', [lock, held]);
      assert.equal(await held.wait(20_000), true);
      assert.equal(lock.acquireSync({ block: false }), false);
      p.kill();
      await p.join(20_000);
      const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
      assert.equal(await lock.acquire({ timeout: 10_000 }), true);
      assert.equal((await warned).name, 'Warning');
      lock.release();
    });

    test("robust: false keeps Python's behaviour: a dead holder's Lock stays taken until someone releases it", {
      skip: noLiveness,
    }, async () => {
      const lock = new Lock({ robust: false });
      const held = new Event();
      const p = start('holdForever', [lock, held]);
      assert.equal(await held.wait(20_000), true);
      p.kill();
      await p.join(20_000);
      assert.equal(await lock.acquire({ timeout: 150 }), false, 'not recovered');
      lock.release(); // any thread or process may release a Lock, as in Python
      assert.equal(lock.acquireSync({ block: false }), true);
      lock.release();
    });

    test('an RLock whose owner died is recovered, with a fresh depth', { skip: noLiveness }, async () => {
      const rlock = new RLock();
      const held = new Event();
      const p = start('holdForever', [rlock, held]);
      assert.equal(await held.wait(20_000), true);
      p.kill();
      await p.join(20_000);
      assert.equal(rlock.acquireSync({ timeout: 10_000 }), true);
      rlock.release();
      assert.equal(rlock._isOwned(), false, 'depth 1 after recovery');
    });

    test('Event: set() here wakes waiters in children (sync and async)', async () => {
      const event = new Event();
      const started = new Semaphore(0);
      const results = new SharedArray('i', 2);
      const ps = [
        start('waitForEvent', [event, started, results, 0]),
        start('waitForEventAsync', [event, started, results, 1]),
      ];
      assert.equal(await started.acquire({ timeout: 20_000 }), true);
      assert.equal(await started.acquire({ timeout: 20_000 }), true);
      event.set();
      await joinAll(ps);
      assert.deepEqual(results.toArray(), [1, 1]);
    });

    test('Condition: a bounded buffer, a child producing and this thread consuming', async () => {
      const n = 300;
      const cond = new Condition();
      const buffer = new SharedArray('i', 4);
      const state = new SharedArray('i', 3); // head, tail, count
      const p = start('produce', [cond, buffer, state, n]);
      const got: number[] = [];
      while (got.length < n) {
        await cond.acquire();
        try {
          assert.ok(await cond.waitFor(() => state.get(2) > 0, 20_000), 'consumer timed out');
          got.push(buffer.get(state.get(0)));
          state.set(0, (state.get(0) + 1) % buffer.length);
          state.set(2, state.get(2) - 1);
          cond.notifyAll();
        } finally {
          cond.release();
        }
      }
      await joinAll([p]);
      assert.deepEqual(
        got,
        Array.from({ length: n }, (_, i) => i + 1),
      );
    });

    test('Barrier: 3 parties (2 children and this thread), distinct indexes each round; the action runs here once a round', async () => {
      const rounds = 4;
      let actions = 0;
      const barrier = new Barrier(3, () => actions++);
      const indexes = new SharedArray('i', 3 * rounds);
      const ps = [
        start('barrierRounds', [barrier, indexes, 1, rounds]),
        start('barrierRounds', [barrier, indexes, 2, rounds]),
      ];
      for (let r = 0; r < rounds; r++) indexes.set(r * 3, await barrier.wait(20_000));
      await joinAll(ps);
      for (let r = 0; r < rounds; r++) {
        assert.deepEqual(
          indexes
            .toArray()
            .slice(r * 3, r * 3 + 3)
            .sort(),
          [0, 1, 2],
          `round ${r}`,
        );
      }
      assert.equal(actions, rounds);
    });

    test('Barrier: abort() here breaks the waits of children', async () => {
      const barrier = new Barrier(3);
      const out = new SharedArray('i', 2);
      const ps = [
        start('barrierExpectBroken', [barrier, out, 0]),
        start('barrierExpectBroken', [barrier, out, 1]),
      ];
      await until(() => barrier.nWaiting === 2); // (aborting earlier would break their waits as well)
      barrier.abort();
      await joinAll(ps);
      assert.deepEqual(out.toArray(), [1, 1]);
    });

    test('Semaphore(2): never more than 2 holders among 3 children', async () => {
      const sem = new Semaphore(2);
      const inside = new SharedArray('i', 2);
      const n = method !== 'thread' ? 1000 : 3000;
      await joinAll([0, 1, 2].map(() => start('semaphoreRounds', [sem, inside, n])));
      assert.ok(inside.get(1) <= 2 && inside.get(1) >= 1, `most holders: ${inside.get(1)}`);
      assert.equal(sem.getValue(), 2);
    });

    test('Values and SharedArrays of every typecode arrive attached to the same memory', async () => {
      const values = [
        new Value('i', 41),
        new Value('d', 0.5),
        new Value('q', 9n),
        new Value('f', 2),
        new Value('B', 7, { lock: false }),
      ];
      const arrays = [
        new SharedArray('h', [1, -2]),
        new SharedArray('Q', [3n]),
        new SharedArray('d', [0.25], { lock: new Lock() }),
      ];
      await joinAll([start('bumpValues', [values, arrays])]);
      assert.deepEqual(
        values.map((v) => v.value),
        [42, 1.5, 10n, 3, 8],
      );
      assert.deepEqual(
        arrays.map((a) => a.toArray()),
        [[2, -4], [6n], [0.5]],
      );
    });
  });
}
