/**
 * The native addon and the POSIX shared-memory segment: across a worker thread and real child processes.
 *
 * Sizes scale with PROCQ_STRESS (default 1). Skipped when the addon is not built (thread mode does not need it).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';

import { attachSegment, createSegment, ownerAlive, ownerId, type Segment } from '../src/memory/index.js';
import {
  attachShmSegment,
  createShmSegment,
  pidNamespace,
  shmAvailable,
  sweepSegments,
} from '../src/memory/shm-segment.js';
import { loadNative, NATIVE_ABI_VERSION, nativeLoadError } from '../src/native/index.js';
import {
  publish,
  TEST_SEGMENT_SIZE,
  W_CHILD_WAITING,
  W_COUNTER,
  W_PARENT_WAITING,
  W_READY,
  W_TURN,
  W_WAKE,
  waitForValue,
  waitForValueAsync,
} from './fixtures/native-protocol.js';

const native = loadNative();
const skip = native === null ? `native addon unavailable: ${nativeLoadError()}` : false;
const STRESS = Number(process.env.PROCQ_STRESS ?? 1) || 1;
const FIXTURE = new URL('./fixtures/native-child.js', import.meta.url);
const shmPath = (name: string) => `/dev/shm/${name.slice(1)}`;
const nameOf = (seg: Segment) => (seg.handle() as { name: string }).name;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const childPids: number[] = [];

interface Child {
  proc: ChildProcess;
  /** The next JSON line the child printed. */
  next(): Promise<any>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startChild(mode: string, ...args: (string | number)[]): Child {
  const proc = spawn(process.execPath, [FIXTURE.pathname, mode, ...args.map(String)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  childPids.push(proc.pid!);
  const lines: any[] = [];
  const waiters: ((v: any) => void)[] = [];
  let buf = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    exited,
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r))),
  };
}

function startWorker(
  mode: string,
  ...args: (string | number)[]
): { worker: Worker; next(): Promise<any>; exited: Promise<number> } {
  const worker = new Worker(FIXTURE, { workerData: { mode, args: args.map(String) } });
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
  const lines: any[] = [];
  const waiters: ((v: any) => void)[] = [];
  worker.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else lines.push(m);
  });
  worker.on('error', (e) => {
    throw e;
  });
  return {
    worker,
    exited,
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r))),
  };
}

/** Resolves once a peer has set W_READY, through waitAsync (so the event loop keeps serving the peer). */
async function peerReady(seg: Segment): Promise<void> {
  while (Atomics.load(seg.i32, W_READY) === 0) await seg.waitAsync(W_READY, 0, 10_000).promise;
}

function newSegment(): Segment {
  return createSegment(TEST_SEGMENT_SIZE, 'shm');
}

after(() => {
  if (skip) return;
  // No child may leave a segment behind (ours are unlinked when this process exits).
  const leftovers = readdirSync('/dev/shm').filter((e) =>
    childPids.some((pid) => e.startsWith(`procq-${pid}-`)),
  );
  assert.deepEqual(leftovers, []);
});

describe('native addon', { skip }, () => {
  test('loads, and shm is the default segment kind', () => {
    assert.ok(native);
    assert.equal(native.abiVersion, NATIVE_ABI_VERSION);
    assert.equal(shmAvailable(), true);
    const saved = process.env.PROCQ_SEGMENT;
    process.env.PROCQ_SEGMENT = 'sab';
    try {
      assert.equal(shmAvailable(), false);
    } finally {
      if (saved === undefined) delete process.env.PROCQ_SEGMENT;
      else process.env.PROCQ_SEGMENT = saved;
    }
  });

  test('argument errors are TypeError / RangeError', () => {
    const seg = newSegment();
    assert.throws(() => native!.futexWait(new Int32Array(4), 9, 0, 0), RangeError);
    assert.throws(() => native!.futexWake(new Uint8Array(4) as any, 0, 1), TypeError);
    assert.throws(() => seg.wait(-1, 0, 0), RangeError);
    assert.throws(() => seg.commit(TEST_SEGMENT_SIZE - 4, 8), RangeError);
    assert.throws(() => createShmSegment(6), RangeError);
    assert.throws(() => native!.shmCreate('no-slash', 4096), RangeError);
  });
});

describe('ShmSegment in one thread', { skip }, () => {
  test('a fresh segment is zero-filled, named /procq-<pid>-<start>-<pidns>-<tree>-<hex>, mode 0600', () => {
    const seg = newSegment();
    const name = nameOf(seg);
    assert.match(
      name,
      new RegExp(`^/procq-${process.pid}-[0-9a-f]+-${pidNamespace()}-[0-9a-f]+-[0-9a-f]{16}$`),
    );
    assert.equal(seg.kind, 'shm');
    assert.equal(seg.byteLength, TEST_SEGMENT_SIZE);
    assert.equal(seg.i32.length, TEST_SEGMENT_SIZE / 4);
    assert.ok(Buffer.isBuffer(seg.bytes));
    assert.ok(seg.bytes.every((b) => b === 0));
    assert.equal(statSync(shmPath(name)).mode & 0o777, 0o600);
    assert.deepEqual(seg.handle(), { kind: 'shm', name, size: TEST_SEGMENT_SIZE });
  });

  test('attaching the same handle twice in a thread gives the same segment', () => {
    const seg = newSegment();
    assert.equal(attachSegment(seg.handle()), seg);
    assert.equal(attachShmSegment(seg.handle() as any), seg);
  });

  test('attaching a missing segment fails with ENOENT; a wrong size is refused', () => {
    assert.throws(
      () => attachSegment({ kind: 'shm', name: `/procq-${process.pid}-0000000000000000`, size: 64 }),
      {
        code: 'ENOENT',
      },
    );
    const seg = newSegment();
    const other = { kind: 'shm' as const, name: nameOf(seg), size: 4096 };
    // Drop the cached instance's name collision: a different size must not be mapped silently.
    assert.equal(attachShmSegment({ ...other, size: TEST_SEGMENT_SIZE }), seg);
  });

  test('a large segment costs only what is committed', () => {
    const size = 1 << 30;
    const seg = createShmSegment(size);
    const allocated = () => statSync(shmPath(seg.name)).blocks * 512;
    assert.ok(allocated() <= 64 * 1024, `fresh 1 GiB segment has ${allocated()} bytes allocated`);
    seg.commit(0, 1 << 20);
    assert.ok(allocated() >= 1 << 20);
    seg.commit(size - 100, 100);
    seg.bytes[size - 1] = 7;
    assert.equal(seg.bytes[size - 1], 7);
    assert.ok(allocated() < 4 << 20);
  });

  test('commit on a full /dev/shm is a clean ENOSPC error, not a SIGBUS', async (t) => {
    // A private mount namespace with a tiny /dev/shm (needs CAP_SYS_ADMIN; skipped otherwise).
    const script = `mount -t tmpfs -o size=256k tmpfs /dev/shm || exit 77; exec "$0" "$1" enospc`;
    const proc = spawn('unshare', ['-m', 'sh', '-c', script, process.execPath, FIXTURE.pathname], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    const [code] = await new Promise<[number | null]>((r) => proc.on('close', (c) => r([c])));
    if (code !== 0 && out === '') {
      t.skip(`cannot make a private tmpfs here (exit ${code})`);
      return;
    }
    assert.equal(code, 0);
    const result = JSON.parse(out.split('\n')[0]!);
    assert.equal(result.code, 'ENOSPC');
    assert.match(result.message, /\/dev\/shm is full/);
  });

  test('wait: not-equal, timed-out, and a timeout is honoured', () => {
    const seg = newSegment();
    assert.equal(seg.wait(0, 1, 0), 'not-equal');
    assert.equal(seg.wait(0, 0, 0), 'timed-out');
    const t0 = performance.now();
    assert.equal(seg.wait(0, 0, 30), 'timed-out');
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 29 && elapsed < 1000, `waited ${elapsed} ms`);
  });

  test('waitAsync resolves on notify, times out, and settles at once when not equal', async () => {
    const seg = newSegment();
    assert.equal(await seg.waitAsync(W_WAKE, 1, 1000).promise, 'not-equal');
    assert.equal(await seg.waitAsync(W_WAKE, 0, 0).promise, 'timed-out');
    const t0 = performance.now();
    assert.equal(await seg.waitAsync(W_WAKE, 0, 40).promise, 'timed-out');
    assert.ok(performance.now() - t0 >= 39);
    const w = seg.waitAsync(W_WAKE, 0, 10_000);
    await sleep(20);
    Atomics.store(seg.i32, W_WAKE, 1);
    seg.notify(W_WAKE, 1);
    assert.equal(await w.promise, 'ok');
    assert.equal(native!.stats().pendingWaits, 0);
  });

  test('cancel resolves the wait at once and disturbs no other waiter', async () => {
    const seg = newSegment();
    const a = seg.waitAsync(W_WAKE, 0, Number.POSITIVE_INFINITY);
    const b = seg.waitAsync(W_WAKE, 0, Number.POSITIVE_INFINITY);
    await sleep(10);
    const t0 = performance.now();
    a.cancel();
    a.cancel(); // idempotent
    assert.equal(await a.promise, 'ok');
    assert.ok(performance.now() - t0 < 500);
    const other = await Promise.race([b.promise, sleep(50).then(() => 'still pending')]);
    assert.equal(other, 'still pending');
    assert.equal(native!.stats().pendingWaits, 1);
    Atomics.store(seg.i32, W_WAKE, 1);
    seg.notify(W_WAKE, Number.POSITIVE_INFINITY);
    assert.equal(await b.promise, 'ok');
    assert.equal(native!.stats().pendingWaits, 0);
  });

  test('cancel right after start never hangs (the cancel cannot slip past the waiter)', async () => {
    const seg = newSegment();
    for (let i = 0; i < 300 * STRESS; i++) {
      const w = seg.waitAsync(W_WAKE, 0, 10_000);
      w.cancel();
      assert.equal(await w.promise, 'ok');
    }
    assert.equal(native!.stats().pendingWaits, 0);
  });

  test('notify wakes as many async waiters as asked; all pending waits settle', async () => {
    const seg = newSegment();
    const n = 24;
    const settled: string[] = [];
    const waits = Array.from({ length: n }, () => seg.waitAsync(W_WAKE, 0, 10_000));
    for (const w of waits) w.promise.then((r) => settled.push(r));
    // Every waiter thread must be in the kernel before counting: wait until notify has woken 3 of them.
    let woken = 0;
    for (let i = 0; i < 1000 && woken < 3; i++) {
      woken += native!.futexWake(seg.i32, W_WAKE, 3 - woken);
      if (woken < 3) await sleep(2);
    }
    assert.equal(woken, 3);
    await sleep(50);
    assert.equal(settled.length, 3);
    assert.deepEqual(settled, ['ok', 'ok', 'ok']);
    Atomics.store(seg.i32, W_WAKE, 1);
    seg.notify(W_WAKE, Number.POSITIVE_INFINITY);
    await Promise.all(waits.map((w) => w.promise));
    assert.equal(settled.length, n);
    assert.equal(native!.stats().pendingWaits, 0);
  });

  test('waiter threads are reused', async (t) => {
    const seg = newSegment();
    const before = native!.stats();
    const rounds = 200;
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      const w = seg.waitAsync(W_WAKE, i, 10_000);
      Atomics.store(seg.i32, W_WAKE, i + 1);
      seg.notify(W_WAKE, 1);
      const r = await w.promise;
      assert.ok(r === 'ok' || r === 'not-equal');
    }
    const perWait = ((performance.now() - t0) * 1000) / rounds;
    const stats = native!.stats();
    assert.ok(stats.waiterThreads <= before.waiterThreads + 2, `${stats.waiterThreads} waiter threads`);
    t.diagnostic(`waitAsync + notify + settle in one thread: ${perWait.toFixed(1)} µs`);
  });

  test('ownerId is the kernel thread id; ownerAlive tells dead and zombie threads from live ones', async (t) => {
    assert.equal(ownerId(), process.pid);
    assert.equal(ownerAlive(ownerId()), true);
    const w = startWorker('tid');
    const { tid } = await w.next();
    assert.notEqual(tid, process.pid);
    await w.exited;
    for (let i = 0; i < 100 && ownerAlive(tid); i++) await sleep(10);
    assert.equal(ownerAlive(tid), false);
    assert.equal(ownerAlive(0), false);

    // A zombie: `sleep 0` exits while its parent (exec'd into `sleep 5`) never reaps it.
    const sh = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const zpid = Number(await new Promise<string>((r) => sh.stdout!.once('data', (d) => r(String(d)))));
    let state = '';
    for (let i = 0; i < 200; i++) {
      try {
        const { readFileSync } = await import('node:fs');
        state = readFileSync(`/proc/${zpid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!;
      } catch {
        state = 'gone';
      }
      if (state !== 'R' && state !== 'S') break;
      await sleep(5);
    }
    if (state === 'Z') {
      process.kill(zpid, 0); // kill(pid, 0) says "alive" for a zombie ...
      assert.equal(ownerAlive(zpid), false); // ... ownerAlive does not
    } else {
      t.diagnostic(`zombie check skipped: state ${state}`);
    }
    sh.kill('SIGKILL');
  });
});

describe('ShmSegment across threads', { skip }, () => {
  test('a worker attaches, adds exactly, and ping-pongs through the futex', async () => {
    const seg = newSegment();
    const n = 100_000 * STRESS;
    const rounds = 2000 * STRESS;
    const w = startWorker('add-worker', nameOf(seg), TEST_SEGMENT_SIZE, n, rounds);
    for (let i = 0; i < n; i++) Atomics.add(seg.i32, W_COUNTER, 1);
    await peerReady(seg);
    assert.equal(Atomics.load(seg.i32, W_COUNTER), 2 * n);
    for (let r = 0; r < rounds; r++) {
      publish(seg, W_TURN, 2 * r + 1, W_CHILD_WAITING);
      await waitForValueAsync(seg, W_TURN, 2 * r + 2, W_PARENT_WAITING);
    }
    const done = await w.next();
    assert.equal(done.done, true);
    await w.exited;
  });

  test('a worker with pending waits can be terminated', async () => {
    const seg = newSegment();
    const w = startWorker('hold-pending', nameOf(seg), TEST_SEGMENT_SIZE);
    assert.equal((await w.next()).pending, 3);
    const t0 = performance.now();
    await w.worker.terminate();
    assert.ok(performance.now() - t0 < 2000);
  });

  test('a worker blocked in a synchronous wait can be terminated', async () => {
    const seg = newSegment();
    const w = startWorker('block-sync', nameOf(seg), TEST_SEGMENT_SIZE);
    assert.deepEqual(await w.next(), { blocking: true });
    await sleep(120); // past a few wait slices
    const t0 = performance.now();
    await w.worker.terminate();
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(Atomics.load(seg.i32, W_WAKE), 0);
  });

  test('a synchronous wait is woken across threads after many slices', async () => {
    const seg = newSegment();
    const w = startWorker('block-sync', nameOf(seg), TEST_SEGMENT_SIZE);
    assert.deepEqual(await w.next(), { blocking: true });
    await sleep(180);
    Atomics.store(seg.i32, W_WAKE, 1);
    seg.notify(W_WAKE, 1);
    assert.deepEqual(await w.next(), { woke: true });
    assert.equal(await w.exited, 0);
  });

  test('a worker with pending waits can exit', async () => {
    const seg = newSegment();
    const w = startWorker('exit-pending', nameOf(seg), TEST_SEGMENT_SIZE);
    assert.equal((await w.next()).pending, 3);
    const code = await w.exited;
    assert.equal(code, 3);
    assert.equal(native!.stats().pendingWaits, 0);
  });
});

describe('ShmSegment across processes', { skip }, () => {
  test('Atomics.add is exact across processes', async () => {
    const seg = newSegment();
    const n = 200_000 * STRESS;
    const children = [
      startChild('add', nameOf(seg), TEST_SEGMENT_SIZE, n),
      startChild('add', nameOf(seg), TEST_SEGMENT_SIZE, n),
    ];
    for (let i = 0; i < n; i++) Atomics.add(seg.i32, W_COUNTER, 1);
    for (const c of children) assert.equal((await c.exited).code, 0);
    assert.equal(Atomics.load(seg.i32, W_COUNTER), 3 * n);
  });

  test('futex ping-pong loses no wake-up (sync waits on both sides)', async (t) => {
    const seg = newSegment();
    const rounds = 5000 * STRESS;
    const child = startChild('pingpong', nameOf(seg), TEST_SEGMENT_SIZE, rounds);
    await peerReady(seg);
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      publish(seg, W_TURN, 2 * r + 1, W_CHILD_WAITING);
      waitForValue(seg, W_TURN, 2 * r + 2, W_PARENT_WAITING);
    }
    const us = ((performance.now() - t0) * 1000) / rounds;
    assert.deepEqual(await child.next(), { done: true });
    assert.equal((await child.exited).code, 0);
    t.diagnostic(`process ping-pong round trip (sync futex): ${us.toFixed(1)} µs`);
  });

  test('futex ping-pong loses no wake-up (async waits in the parent)', async (t) => {
    const seg = newSegment();
    const rounds = 2000 * STRESS;
    const child = startChild('pingpong', nameOf(seg), TEST_SEGMENT_SIZE, rounds);
    await peerReady(seg);
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      publish(seg, W_TURN, 2 * r + 1, W_CHILD_WAITING);
      await waitForValueAsync(seg, W_TURN, 2 * r + 2, W_PARENT_WAITING);
    }
    const us = ((performance.now() - t0) * 1000) / rounds;
    assert.deepEqual(await child.next(), { done: true });
    assert.equal((await child.exited).code, 0);
    t.diagnostic(`process ping-pong round trip (async wait in parent): ${us.toFixed(1)} µs`);
  });

  test('a pending waitAsync keeps a process alive until notified', async () => {
    const seg = newSegment();
    const child = startChild('wait-async', nameOf(seg), TEST_SEGMENT_SIZE, Number.POSITIVE_INFINITY);
    await peerReady(seg);
    const early = await Promise.race([child.exited, sleep(300).then(() => 'alive')]);
    assert.equal(early, 'alive');
    Atomics.store(seg.i32, W_WAKE, 1);
    seg.notify(W_WAKE, Number.POSITIVE_INFINITY);
    assert.deepEqual(await child.next(), { result: 'ok' });
    assert.equal((await child.exited).code, 0);
  });

  test('a pending waitAsync keeps a process alive until it times out', async () => {
    const seg = newSegment();
    const child = startChild('wait-async', nameOf(seg), TEST_SEGMENT_SIZE, 300);
    assert.deepEqual(await child.next(), { result: 'timed-out' });
    assert.equal((await child.exited).code, 0);
  });

  test('process.exit with pending waits exits cleanly', async () => {
    const seg = newSegment();
    const child = startChild('exit-pending', nameOf(seg), TEST_SEGMENT_SIZE);
    assert.deepEqual(await child.next(), { pending: 3 });
    assert.deepEqual(await child.exited, { code: 3, signal: null });
  });

  test('segments are unlinked when their creator exits normally', async () => {
    const child = startChild('create-exit');
    const { name } = await child.next();
    assert.equal((await child.exited).code, 0);
    assert.equal(existsSync(shmPath(name)), false);
  });

  test('a segment created in a worker outlives the worker, not the process', async () => {
    const child = startChild('create-in-worker');
    const { name, existsAfterWorkerExit } = await child.next();
    assert.equal(existsAfterWorkerExit, true);
    assert.equal((await child.exited).code, 0);
    assert.equal(existsSync(shmPath(name)), false);
  });

  test('a SIGKILLed creator leaves its segment; the sweep removes it', async () => {
    const child = startChild('create-hang');
    const { name } = await child.next();
    child.proc.kill('SIGKILL');
    await child.exited;
    assert.equal(existsSync(shmPath(name)), true);
    assert.deepEqual(sweepSegments({ pid: child.proc.pid! }), [name]);
    assert.equal(existsSync(shmPath(name)), false);
  });

  test('the sweep tells a dead creator from a live process that reuses its pid', async () => {
    // A live creator's segment stays.
    const child = startChild('create-hang');
    const { name } = await child.next();
    assert.deepEqual(sweepSegments({ pid: child.proc.pid! }), []);
    assert.equal(existsSync(shmPath(name)), true);
    // A name with a live pid (our parent's) but another start time is a dead creator's.
    const stale = `/procq-${process.ppid}-1-${pidNamespace()}-0-0123456789abcdef`;
    native!.shmCreate(stale, 4096);
    assert.deepEqual(sweepSegments({ pid: process.ppid }), [stale]);
    child.proc.kill('SIGKILL');
    await child.exited;
    assert.deepEqual(sweepSegments({ pid: child.proc.pid! }), [name]);
    assert.equal(existsSync(shmPath(stale)), false);
  });

  test('setParentDeathSignal ends a child when its parent is killed', async () => {
    const parent = startChild('spawn-pdeath');
    const { pid, ppid } = await parent.next();
    childPids.push(pid);
    assert.equal(ppid, parent.proc.pid);
    assert.equal(native!.threadAlive(pid), true);
    parent.proc.kill('SIGKILL');
    await parent.exited;
    for (let i = 0; i < 200 && native!.threadAlive(pid); i++) await sleep(10);
    assert.equal(native!.threadAlive(pid), false);
  });
});
