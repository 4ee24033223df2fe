// Hardening of the waits around shared-memory locks (faults found by trying procq as an attacker would):
// - a live but stopped (SIGSTOP) lock holder: every call with a timeout settles within it plus a small margin, and no
//   async form blocks the event loop (an async put that must grow the ring waits for the consumer lock
//   asynchronously);
// - a dead holder's pid given to an unrelated process: the lock is still recovered (owners are (tid, start time));
// - a Semaphore sleeper woken for a release and killed before it took the unit: the other sleepers are not stranded
//   (every sleep is sliced).
// They need OS processes (the native addon); pid reuse needs root (it steers pids through ns_last_pid).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, afterEach, describe, test } from 'node:test';
import { Empty, TimeoutError } from '../src/errors.js';
import { loadNative } from '../src/native/index.js';
import { Process } from '../src/process/index.js';
import { Queue } from '../src/queue/queue.js';
import { Lock, Semaphore } from '../src/sync/index.js';
import { noChildrenLeft, noPidSteering, occupy, PROCESS_METHOD } from './helpers/util.js';

const TARGETS = new URL('./fixtures/harden-targets.js', import.meta.url);
const noProcesses = loadNative() === null ? 'needs the native addon (OS processes)' : false;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function child(target: string, args: unknown[]): Process {
  const p = new Process({ target, module: TARGETS, args, startMethod: PROCESS_METHOD, daemon: true });
  p.start();
  return p;
}

/** Resumes `pid` after `ms` from another process: a test whose event loop is blocked still ends. */
function watchdog(pid: number, ms: number): ChildProcess {
  const w = spawn('sh', ['-c', `sleep ${ms / 1000}; kill -CONT ${pid} 2>/dev/null`], { stdio: 'ignore' });
  w.unref();
  return w;
}

/**
 * Stops `pid` (SIGSTOP) at a moment it holds the lock word `i32[word]`; `feed` keeps it busy meanwhile. Retries
 * until the stop lands inside the lock (checked 50 ms after the stop).
 */
async function stopHolding(pid: number, holder: () => number, feed: () => void): Promise<void> {
  const until = performance.now() + 60_000;
  while (performance.now() < until) {
    const spinUntil = performance.now() + 2000;
    while (holder() !== pid && performance.now() < spinUntil) feed();
    if (holder() !== pid) {
      await sleep(10); // the child is not started yet: let the event loop run
      continue;
    }
    process.kill(pid, 'SIGSTOP');
    await sleep(50);
    if (holder() === pid) return;
    process.kill(pid, 'SIGCONT');
  }
  assert.fail(`could not stop process ${pid} while it held the lock`);
}

/** How long `p` takes to settle, and how it settled ('ok' or the error's name). */
async function timed(p: Promise<unknown>): Promise<{ outcome: string; ms: number }> {
  const t0 = performance.now();
  const outcome = await p.then(
    () => 'ok',
    (e: Error) => e.name,
  );
  return { outcome, ms: performance.now() - t0 };
}

/** Generous: the machine may be busy; without the fix these calls never settle while the holder is stopped. */
const SETTLE_MS = 3000;

describe('a live but stopped lock holder', { skip: noProcesses, concurrency: false }, () => {
  afterEach(noChildrenLeft);

  test('consumer lock: get/getSync with a timeout settle within it; an async put that grows the ring neither waits for ever nor blocks the event loop', async () => {
    // A ring that may grow to 64 MiB (tests only): past its largest size a put goes to an overflow block, which
    // needs only the producer lock; growing is what needs the consumer lock too.
    process.env.PROCQ_TEST_RING_MAX = String(1 << 26);
    const q = new Queue<Buffer>(0, { capacityBytes: 1 << 24 });
    delete process.env.PROCQ_TEST_RING_MAX;
    const item = Buffer.alloc(4 << 20, 7);
    q.putManySync([item, item, item]);
    const p = child('consume', [q]);
    const pid = p.pid!;
    const lock = q._engine.ring.consumerLock;
    await stopHolding(
      pid,
      () => lock.owner(),
      () => {
        if (q.qsize() < 2) q.putManySync([item, item, item]);
      },
    );
    const dog = watchdog(pid, 15_000);
    try {
      assert.ok(q.qsize() > 0, 'items wait behind the stopped consumer');
      const get = await timed(q.get({ timeout: 200 }));
      assert.equal(get.outcome, 'Empty');
      assert.ok(get.ms < SETTLE_MS, `get({ timeout: 200 }) took ${Math.round(get.ms)} ms`);

      const t0 = performance.now();
      assert.throws(() => q.getSync({ timeout: 100 }), Empty);
      assert.ok(performance.now() - t0 < SETTLE_MS, 'getSync({ timeout: 100 })');

      // 32 MiB do not fit a 16 MiB ring: the put must grow it, which needs the consumer lock.
      const capBefore = q._engine.ring.i32[3];
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 5);
      const put = q.put(Buffer.alloc(32 << 20, 1), { timeout: 200 });
      const ticksAtReturn = ticks;
      const r = await timed(put);
      clearInterval(ticker);
      // An unbounded queue is never full: a put that cannot go on is a TimeoutError, not Full.
      assert.equal(r.outcome, 'TimeoutError');
      assert.ok(r.ms < SETTLE_MS, `put({ timeout: 200 }) took ${Math.round(r.ms)} ms`);
      assert.equal(ticksAtReturn, 0, 'put() returned its promise before any timer ran');
      assert.ok(ticks > 0, 'the event loop ran while the put waited for the consumer lock');
      assert.equal(q._engine.ring.i32[3], capBefore, 'the ring did not grow without the consumer lock');

      assert.throws(() => q.putSync(Buffer.alloc(32 << 20, 1), { timeout: 100 }), TimeoutError);
    } finally {
      process.kill(pid, 'SIGCONT');
      dog.kill();
      p.kill();
      await p.join();
    }
    // The queue still works once the consumer is gone (its lock is recovered from the dead holder).
    const left = q.qsize();
    assert.ok(left >= 0);
    await q.put(Buffer.from('after'), { timeout: SETTLE_MS });
    for (let i = 0; i < left; i++) q.getSync({ timeout: SETTLE_MS });
    assert.deepEqual(q.getSync({ timeout: SETTLE_MS }), Buffer.from('after'));
  });

  test('putNowait into an unbounded queue waits for a producer lock held by a running thread (never Full)', async () => {
    const q = new Queue<string>();
    const said = new Queue<string>();
    const p = child('holdProducerLock', [q, said, 120]);
    try {
      assert.equal(said.getSync({ timeout: 30_000 }), 'holding');
      q.putNowait('in'); // Python's put_nowait on an unbounded queue never raises Full (was Full after 50 ms)
      assert.equal(q.getNowait(), 'in');
    } finally {
      await p.join();
    }
    assert.equal(p.exitCode, 0);
  });

  test('producer lock: put/putSync with a timeout settle within it', async () => {
    const q = new Queue<Buffer>(0, { capacityBytes: 1 << 26 });
    const p = child('bigPut', [q, 8]);
    const pid = p.pid!;
    const lock = q._engine.ring.producerLock;
    await stopHolding(
      pid,
      () => lock.owner(),
      () => {
        while (q.qsize() > 2) q.getSync({ timeout: 1000 });
      },
    );
    const dog = watchdog(pid, 15_000);
    try {
      const put = await timed(q.put(Buffer.from('x'), { timeout: 200 }));
      assert.equal(put.outcome, 'TimeoutError', 'an unbounded queue is never Full');
      assert.ok(put.ms < SETTLE_MS, `put({ timeout: 200 }) took ${Math.round(put.ms)} ms`);
      const t0 = performance.now();
      assert.throws(() => q.putSync(Buffer.from('x'), { timeout: 100 }), TimeoutError);
      assert.throws(() => q.putNowait(Buffer.from('x')), TimeoutError);
      assert.ok(performance.now() - t0 < SETTLE_MS, 'putSync / putNowait');
    } finally {
      process.kill(pid, 'SIGCONT');
      dog.kill();
      p.kill();
      await p.join();
    }
  });
});

const pidReuse = noProcesses || noPidSteering();

describe('a dead holder whose pid now names another process', { skip: pidReuse, concurrency: false }, () => {
  afterEach(noChildrenLeft);

  test('Lock: a waiter takes it over although the pid is alive again', async () => {
    const lock = new Lock();
    const said = new Queue<string>();
    const p = child('holdLock', [lock, said]);
    assert.equal(await said.get({ timeout: 60_000 }), 'holding');
    const pid = p.pid!;
    p.kill();
    await p.join();
    assert.equal(lock.locked(), true, 'the killed holder left the lock taken');
    const stranger = await occupy(pid);
    try {
      const r = await timed(lock.acquire({ timeout: 5000 }));
      assert.equal(r.outcome, 'ok');
      assert.equal(lock.locked(), true, 'taken over by this thread');
      lock.release();
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  test('Queue: a producer killed holding the producer lock; its pid reused; the next put recovers the lock', async () => {
    const q = new Queue<Buffer | string>(0, { capacityBytes: 64 });
    const p = child('bigPut', [q, 16]);
    const pid = p.pid!;
    const lock = q._engine.ring.producerLock;
    const until = performance.now() + 60_000;
    while (lock.owner() !== pid && performance.now() < until) {
      while (q.qsize() > 1) q.getSync({ timeout: 1000 });
      await sleep(0);
    }
    p.kill();
    await p.join();
    assert.equal(lock.owner(), pid, 'the producer died holding the producer lock');
    const stranger = await occupy(pid);
    try {
      const r = await timed(q.put('x', { timeout: 5000 }));
      assert.equal(r.outcome, 'ok');
      let last: unknown;
      while (q.qsize() > 0) last = q.getNowait();
      assert.equal(last, 'x');
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});

describe('a Semaphore sleeper woken for a release and killed before it took the unit', {
  skip: noProcesses,
}, () => {
  afterEach(noChildrenLeft);

  test('the other sleeper takes the unit: nobody is stranded while a unit is free (3 trials)', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const sem = new Semaphore(0);
      const said = new Queue<string>();
      const k = child('semWaiter', [sem, said]);
      assert.equal(await said.get({ timeout: 60_000 }), 'waiting');
      await sleep(300); // K sleeps in the futex, first in line
      let acquired = false;
      const m = sem.acquire({ timeout: 20_000 }).then((v) => (acquired = v));
      await sleep(100); // M sleeps too, second in line
      sem.release(); // the wake-up goes to K...
      process.kill(k.pid!, 'SIGKILL'); // ...which dies before (or just after) taking the unit
      await k.join();
      const until = performance.now() + SETTLE_MS;
      while (!acquired && performance.now() < until) await sleep(10);
      const value = sem.getValue();
      // Stranded: a unit is free and M still sleeps. K may have won the race and taken the unit before dying.
      assert.ok(
        acquired || value === 0,
        `trial ${trial}: M still asleep ${SETTLE_MS} ms after a release (value ${value})`,
      );
      if (!acquired) sem.release(); // K took it: let M finish
      await m;
    }
  });
});

after(async () => {
  await noChildrenLeft();
});
