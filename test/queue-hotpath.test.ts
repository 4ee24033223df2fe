// The put/get hot path's economies, each checked for what it must not change: wakes skipped when nobody sleeps in
// the kernel (never a lost one), putters woken with hysteresis (never a put refused while there is room at its
// deadline), plain objects encoded into a reused scratch buffer (never an item overwritten by a later encoding).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Full, Process, Queue, type StartMethod } from '../src/index.js';
import { loadNative } from '../src/native/index.js';
import {
  GET_EPOCH,
  GET_PARK_SEQ,
  GET_PARKED,
  GET_WOKE_SEQ,
  PUT_EPOCH,
  PUT_PARKED,
  PUT_WAIT,
  putterLowWater,
} from '../src/ring/layout.js';
import { itemOf, STOP, waveItemOf } from './fixtures/queue-peers.js';

const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';
const PEERS = new URL('./fixtures/queue-peers.js', import.meta.url);

const i32Of = (q: Queue<unknown>): Int32Array => q._engine.i32;

/** Counts the futex wakes of `q`'s getters (notify calls on GET_EPOCH) until `restore()`. */
function countGetterWakes(q: Queue<unknown>): { readonly count: number; restore(): void } {
  const seg = q._engine.seg;
  const notify = seg.notify.bind(seg);
  const counter = { count: 0, restore: () => void (seg.notify = notify) };
  seg.notify = (index: number, count: number) => {
    if (index === GET_EPOCH) counter.count++;
    return notify(index, count);
  };
  return counter;
}

test('a put with nobody asleep bumps the getters epoch but makes no futex wake; a parked getter is still woken', async () => {
  const q = new Queue<unknown>();
  const i32 = i32Of(q);
  const wakes = countGetterWakes(q);
  try {
    // Advertised (an async getter joins its group) while nobody is parked yet cannot be told apart from outside;
    // so: a pending async get is parked in the kernel (its native waiter raised GET_PARKED), and a put wakes it.
    const got = q.get({ timeout: 10_000 });
    const t0 = performance.now();
    while (Atomics.load(i32, GET_PARKED) === 0 && performance.now() - t0 < 5000)
      await new Promise((r) => setTimeout(r, 1));
    assert.equal(Atomics.load(i32, GET_PARKED), 1, 'the pending get is parked');
    q.putNowait({ id: 1 });
    assert.deepEqual(await got, { id: 1 });
    assert.equal(wakes.count, 1, 'the parked getter cost one wake');
    // Nobody waits now: puts cost neither an epoch bump nor a wake.
    const epoch = Atomics.load(i32, GET_EPOCH);
    for (let i = 0; i < 100; i++) q.putNowait(i);
    assert.equal(Atomics.load(i32, GET_EPOCH), epoch);
    assert.equal(wakes.count, 1);
    for (let i = 0; i < 100; i++) assert.equal(q.getNowait(), i);
  } finally {
    wakes.restore();
  }
  assert.equal(Atomics.load(i32, GET_PARKED), 0, 'nobody left parked');
  q.close();
});

for (const form of ['async', 'sync'] as const) {
  test(`${form === 'async' ? 'an' : 'a'} ${form} getter in another thread, parked and woken again and again, misses no item (parked accounting exact)`, async () => {
    const q = new Queue<string>();
    const out = new Queue<string[]>();
    const p = new Process({
      target: 'consume',
      module: new URL('./fixtures/queue-peers.js', import.meta.url),
      args: [form, q, out],
      startMethod: 'thread',
    });
    p.start();
    const sent: string[] = [];
    for (let i = 0; i < 2000; i++) {
      // Pauses now and then let the getter park, so both the parked and the spinning paths are taken.
      if (i % 40 === 0) await new Promise((r) => setTimeout(r, 2));
      const item = itemOf('h', i);
      await q.put(item);
      sent.push(item);
    }
    await q.put(STOP);
    assert.deepEqual(await out.get({ timeout: 30_000 }), sent);
    await p.join(10_000);
    assert.equal(p.exitCode, 0);
    assert.equal(Atomics.load(i32Of(q), GET_PARKED), 0);
    assert.equal(Atomics.load(i32Of(q), PUT_PARKED), 0);
    q.close();
    out.close();
  });
}

test('putters of a bounded queue are woken at its low-water mark, not on every take', async () => {
  const maxsize = 8;
  const low = putterLowWater(maxsize);
  assert.equal(low, 6);
  const q = new Queue<number>(maxsize);
  const i32 = i32Of(q);
  for (let i = 0; i < maxsize; i++) q.putNowait(i);
  let done = false;
  const put = q.put(100, { timeout: 20_000 }).then(() => {
    done = true;
  });
  // The putter advertised itself (it found the queue full).
  const t0 = performance.now();
  while (Atomics.load(i32, PUT_WAIT) === 0 && performance.now() - t0 < 5000)
    await new Promise((r) => setTimeout(r, 1));
  const epoch = Atomics.load(i32, PUT_EPOCH);
  assert.equal(q.getNowait(), 0); // 7 left: above the low-water mark
  assert.equal(Atomics.load(i32, PUT_EPOCH), epoch, 'no wake above the low-water mark');
  assert.equal(q.getNowait(), 1); // 6 left: at the mark
  assert.notEqual(Atomics.load(i32, PUT_EPOCH), epoch, 'woken at the low-water mark');
  await put;
  assert.ok(done);
  assert.equal(q.qsize(), 7);
  q.close();
});

test('a putter with a timeout still takes room above the low-water mark at its deadline (no Full while there is room)', async () => {
  const q = new Queue<number>(8);
  for (let i = 0; i < 8; i++) q.putNowait(i);
  const put = q.put(100, { timeout: 60 });
  setTimeout(() => q.getNowait(), 5); // 7 left: room, but above the mark
  await put;
  assert.equal(q.qsize(), 8);
  await assert.rejects(q.put(101, { timeout: 10 }), Full);
  q.close();
});

test('a plain object waiting for room keeps its bytes while other puts reuse the encoding scratch', async () => {
  const q = new Queue<unknown>(1);
  const other = new Queue<unknown>();
  q.putNowait({ first: true });
  const a = { id: 'waiting', tags: ['x', 'y'], n: 1.5 };
  const pending = q.put(a, { timeout: 10_000 });
  for (let i = 0; i < 50; i++) other.putNowait({ id: `other-${i}`, tags: ['z'], n: i });
  assert.deepEqual(q.getNowait(), { first: true });
  await pending;
  assert.deepEqual(q.getNowait(), a);
  for (let i = 0; i < 50; i++) assert.deepEqual(other.getNowait(), { id: `other-${i}`, tags: ['z'], n: i });
  q.close();
  other.close();
});

test('a getter that puts on a queue while its object is being encoded: both items arrive whole', () => {
  const q = new Queue<unknown>();
  const inner = { inner: 'value', list: [1, 2, 3] };
  const outer = {
    before: 'b',
    get during() {
      q.putNowait(inner);
      return 'd';
    },
    after: ['a', 'c'],
  };
  q.putNowait(outer);
  assert.deepEqual(q.getNowait(), inner);
  assert.deepEqual(q.getNowait(), { before: 'b', during: 'd', after: ['a', 'c'] });
  q.close();
});

test('puts made after a wake, before the woken getter runs again, make no futex wake; its next sleep is woken', async () => {
  const q = new Queue<number>();
  const i32 = i32Of(q);
  const wakes = countGetterWakes(q);
  try {
    for (let round = 0; round < 3; round++) {
      // An async get in this thread sleeps (its group's one kernel wait): it runs again only once this code awaits.
      const got = q.get({ timeout: 10_000 });
      assert.equal(Atomics.load(i32, GET_PARKED), 1, `round ${round}: the get is parked`);
      q.putNowait(3 * round);
      const after = wakes.count;
      assert.ok(after <= round + 1, `round ${round}: at most one wake for the first put (${after})`);
      assert.equal(
        Atomics.load(i32, GET_WOKE_SEQ),
        Atomics.load(i32, GET_PARK_SEQ),
        'the sleep is recorded woken',
      );
      // The woken get has not run (GET_PARKED is still raised): these puts find nobody to wake and make no call.
      q.putNowait(3 * round + 1);
      q.putNowait(3 * round + 2);
      assert.equal(wakes.count, after, `round ${round}: no futex wake while the woken getter has not run`);
      assert.equal(await got, 3 * round);
      assert.equal(q.getNowait(), 3 * round + 1);
      assert.equal(q.getNowait(), 3 * round + 2);
    }
  } finally {
    wakes.restore();
  }
  assert.equal(Atomics.load(i32, GET_PARKED), 0, 'nobody left parked');
  q.close();
});

// Skipped wakes must never strand a sleeper: with 10-minute slices in every peer (PROCQ_WAIT_SLICE_MS, read when
// procq loads there), a getter left asleep with items queued is a timeout (20 s per get), not 100 ms nobody sees.
for (const startMethod of ['thread', 'spawn'] as StartMethod[]) {
  test(`3 producers x 3 consumers (${startMethod}, sync and async mixed) over Queue(2), long slices: every item exactly once`, {
    skip: startMethod !== 'thread' && !canSpawn && 'spawn needs the native addon',
  }, async () => {
    const N = 1500;
    const q = new Queue<string>(2);
    const done = new Queue<string>();
    const out = new Queue<string[]>();
    const procs: Process[] = [];
    process.env.PROCQ_WAIT_SLICE_MS = String(600_000);
    try {
      for (let k = 0; k < 3; k++) {
        const form = k % 2 === 0 ? 'sync' : 'async';
        procs.push(
          new Process({ target: 'produce', module: PEERS, args: [form, q, `p${k}`, N, done], startMethod }),
        );
        procs.push(
          new Process({
            target: 'consume',
            module: PEERS,
            args: [form === 'sync' ? 'async' : 'sync', q, out],
            startMethod,
          }),
        );
      }
      for (const p of procs) p.start();
    } finally {
      delete process.env.PROCQ_WAIT_SLICE_MS;
    }
    for (let k = 0; k < 3; k++) await done.get({ timeout: 60_000 });
    for (let k = 0; k < 3; k++) await q.put(STOP, { timeout: 20_000 });
    const seen = new Map<string, number>();
    for (let k = 0; k < 3; k++)
      for (const item of await out.get({ timeout: 60_000 })) seen.set(item, (seen.get(item) ?? 0) + 1);
    for (const p of procs) await p.join(20_000);
    for (const p of procs) assert.equal(p.exitCode, 0, `${p.name} exited with ${p.exitCode}`);
    assert.equal(seen.size, 3 * N, 'every item delivered');
    for (let k = 0; k < 3; k++)
      for (let i = 0; i < N; i++) assert.equal(seen.get(itemOf(`p${k}`, i)), 1, `p${k}:${i} once`);
    for (const w of [q, done, out]) w.close();
  });
}

// Each handle caches the other side's published position (layout.ts, "Cached positions"): a view that went stale
// the unsafe way (more room or more items than there are) would overwrite unread frames or read unwritten ones,
// and an item would arrive torn, twice, or not at all. Producers and consumers here change on every lock turn
// (threads, processes, this thread), consumers pause now and then so the ring fills, it grows (large items), spills
// into blocks (a 4 KiB largest ring) and shrinks back (pauses past SHRINK_AFTER_MS) while they run; every item's
// bytes are compared.
for (const bounded of [0, 50]) {
  test(`3 producers x 3 consumers (thread, spawn, this thread) over ${bounded ? `Queue(${bounded})` : 'an unbounded queue'}, a ring that grows, spills and shrinks under them: every item exactly once, bytes intact`, {
    skip: !canSpawn && 'spawn needs the native addon',
  }, async () => {
    const N = 600;
    const LARGE = 6000;
    process.env.PROCQ_TEST_RING_MAX = '4096';
    let q: Queue<string>;
    try {
      q = new Queue<string>(bounded, { capacityBytes: 64 });
    } finally {
      delete process.env.PROCQ_TEST_RING_MAX;
    }
    const done = new Queue<string>();
    const out = new Queue<string[]>();
    const procs: Process[] = [];
    for (const [k, startMethod] of (['thread', 'spawn'] as StartMethod[]).entries()) {
      const form = k === 0 ? 'sync' : 'async';
      const args = [form, q, `p${k}`, N, done, 100, 250, LARGE];
      procs.push(new Process({ target: 'produceWaves', module: PEERS, args, startMethod }));
      procs.push(
        new Process({ target: 'consumeWaves', module: PEERS, args: [form, q, out, 70, 20], startMethod }),
      );
    }
    for (const p of procs) p.start();
    // This thread is the third producer and the third consumer, turn about.
    const mine: string[] = [];
    for (let i = 0; i < N; i++) {
      await q.put(waveItemOf('p2', i, LARGE), { timeout: 60_000 });
      if (i % 3 === 0) {
        try {
          mine.push(q.getNowait());
        } catch {
          // empty: the other consumers were faster
        }
      }
    }
    for (let k = 0; k < 2; k++) await done.get({ timeout: 60_000 });
    for (let k = 0; k < 2; k++) await q.put(STOP, { timeout: 20_000 });
    const seen = new Map<string, number>();
    const count = (item: string) => seen.set(item, (seen.get(item) ?? 0) + 1);
    for (let k = 0; k < 2; k++) for (const item of await out.get({ timeout: 60_000 })) count(item);
    for (const item of mine) count(item);
    for (;;) {
      let item: string;
      try {
        item = q.getNowait();
      } catch {
        break;
      }
      assert.notEqual(item, STOP, 'a STOP left over: a consumer stopped early');
      count(item);
    }
    for (const p of procs) await p.join(20_000);
    for (const p of procs) assert.equal(p.exitCode, 0, `${p.name} exited with ${p.exitCode}`);
    for (let k = 0; k < 3; k++)
      for (let i = 0; i < N; i++) {
        const item = waveItemOf(`p${k}`, i, LARGE);
        assert.equal(seen.get(item), 1, `p${k}:${i} once, intact`);
        seen.delete(item);
      }
    assert.deepEqual(
      [...seen.keys()].map((s) => s.slice(0, 40)),
      [],
      'nothing else arrived (no torn item)',
    );
    for (const w of [q, done, out]) w.close();
  });
}
