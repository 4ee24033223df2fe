// startMethod 'forkserver' through the public API: warm interpreters run targets with their arguments (queues
// included), report exit codes, can be terminated and killed, are recovered when one dies idle, and serve Pool.
// The forkserver's internals are used only to find the idle warm children (to kill one) and to end them at the end.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, afterEach, test } from 'node:test';
import { getStartMethod, Pool, Process, Queue, setStartMethod } from '../src/index.js';
import { forkserverPids, forkserverReady, stopForkserver } from '../src/process/popen-forkserver.js';
import { noChildrenLeft, runningChildPids } from './helpers/util.js';

const TARGETS = new URL('./fixtures/process-targets.js', import.meta.url);
const FS_TARGETS = new URL('./fixtures/forkserver-targets.js', import.meta.url);

const start = (target: string, args: unknown[] = [], module = TARGETS) => {
  const p = new Process({ target, args, module, startMethod: 'forkserver' });
  p.start();
  return p;
};

afterEach(noChildrenLeft);
after(() => {
  stopForkserver();
});

test('forkserver: a target runs in a warm process of its own, with its queue argument, and exits 0', async () => {
  await forkserverReady();
  const warm = forkserverPids();
  assert.ok(warm.length >= 1, 'a warm child is ready');
  const q = new Queue<unknown>();
  const p = start('putsBack', [q, { job: 1, tags: ['a'] }], FS_TARGETS);
  assert.ok(warm.includes(p.pid!), `the child ${p.pid} is one of the warm ones ${warm}`);
  assert.equal(p.startMethod, 'forkserver');
  const [pid, method, value] = (await q.get({ timeout: 30_000 })) as [number, string, unknown];
  assert.equal(pid, p.pid);
  assert.notEqual(pid, process.pid);
  assert.equal(method, 'forkserver');
  assert.deepEqual(value, { job: 1, tags: ['a'] });
  await p.join();
  assert.equal(p.exitCode, 0);
});

test('forkserver: exit codes as with spawn (return 0, throw 1, process.exit(n) n)', async () => {
  const codes = [];
  for (const [target, args] of [
    ['returns', []],
    ['throws', ['expected in a test']],
    ['exitsWith', [7]],
    ['exitsLater', [4]],
  ] as const) {
    const p = start(target, [...args]);
    await p.join();
    codes.push(p.exitCode);
  }
  assert.deepEqual(codes, [0, 1, 7, 4]);
});

test('forkserver: terminate() gives -15, kill() gives -9', async () => {
  const p = start('runsForever');
  assert.equal(p.isAlive(), true);
  p.terminate();
  await p.join();
  assert.equal(p.exitCode, -15);
  const k = start('runsForever');
  k.kill();
  await k.join();
  assert.equal(k.exitCode, -9);
});

test('forkserver: several children at once share queues both ways', async () => {
  const inbox = new Queue<number>();
  const out = new Queue<number>();
  const ps = [0, 1, 2].map(() => start('sums', [inbox, out, 10], FS_TARGETS));
  for (let i = 1; i <= 30; i++) await inbox.put(i);
  let total = 0;
  for (let i = 0; i < 3; i++) total += await out.get({ timeout: 30_000 });
  assert.equal(total, (30 * 31) / 2);
  await Promise.all(ps.map((p) => p.join()));
  assert.deepEqual(
    ps.map((p) => p.exitCode),
    [0, 0, 0],
  );
});

test('forkserver: a warm child killed while idle is replaced, and the next start still works', async () => {
  await forkserverReady();
  const [victim] = forkserverPids();
  assert.ok(victim !== undefined);
  process.kill(victim, 'SIGKILL');
  // The replacement comes up by itself (no start() needed to notice).
  for (let i = 0; i < 600 && (forkserverPids().includes(victim) || forkserverPids().length === 0); i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!forkserverPids().includes(victim), 'the killed child left the warm set');
  assert.ok(forkserverPids().length >= 1, 'a replacement is warming');
  const q = new Queue<unknown>();
  const p = start('putsBack', [q, 'after the kill'], FS_TARGETS);
  assert.notEqual(p.pid, victim);
  assert.equal(((await q.get({ timeout: 30_000 })) as unknown[])[2], 'after the kill');
  await p.join();
  assert.equal(p.exitCode, 0);
});

test('forkserver: the child sees the environment, working directory, flags and argv of start(), as spawn', async () => {
  // Warm children whose environment has PROCQ_FS_PROBE and PROCQ_FS_GONE with values start() no longer has.
  stopForkserver();
  process.env.PROCQ_FS_PROBE = 'at warm-up';
  process.env.PROCQ_FS_GONE = 'at warm-up';
  await forkserverReady(); // warmed before the changes below
  const warm = forkserverPids();
  const cwd = process.cwd();
  process.env.PROCQ_FS_PROBE = 'set after warm-up';
  delete process.env.PROCQ_FS_GONE;
  process.chdir(tmpdir());
  try {
    const q = new Queue<any>();
    const seen: Record<string, any> = {};
    for (const method of ['forkserver', 'spawn'] as const) {
      const child = new Process({
        target: 'describesStart',
        args: [q, 'PROCQ_FS_PROBE'],
        module: FS_TARGETS,
        startMethod: method,
      });
      child.start();
      if (method === 'forkserver') assert.ok(warm.includes(child.pid!), 'a warm child served the start');
      seen[method] = await q.get({ timeout: 30_000 });
      await child.join();
      assert.equal(child.exitCode, 0);
    }
    assert.equal(seen.forkserver.env, 'set after warm-up');
    assert.equal(seen.forkserver.gone, null);
    assert.equal(seen.forkserver.cwd, tmpdir());
    assert.deepEqual(seen.forkserver, seen.spawn);
    // Both children belong to this process's resource tracker (segments they create live as long as this tree).
    assert.ok(/^[0-9a-f]{16}$/.test(seen.forkserver.tracker), `a tracker token: ${seen.forkserver.tracker}`);
  } finally {
    process.chdir(cwd);
    delete process.env.PROCQ_FS_PROBE;
  }
});

test('forkserver: the default on Linux, for Process and Pool alike (unless PROCQ_START_METHOD says otherwise)', {
  skip: process.platform !== 'linux' || process.env.PROCQ_START_METHOD !== undefined,
}, async () => {
  assert.equal(getStartMethod(), 'forkserver');
  const q = new Queue<unknown>();
  const p = new Process({ target: 'putsBack', args: [q, 'default'], module: FS_TARGETS });
  assert.equal(p.startMethod, 'forkserver');
  p.start();
  assert.deepEqual(await q.get({ timeout: 30_000 }), [p.pid, 'forkserver', 'default']);
  await p.join();
  assert.equal(p.exitCode, 0);
  const pool = new Pool({ processes: 1 });
  try {
    assert.equal(pool.startMethod, 'forkserver');
    const out = await pool.map(
      { module: new URL('./fixtures/pool-tasks.js', import.meta.url), name: 'square' },
      [3],
    );
    assert.deepEqual(out, [9]);
  } finally {
    pool.terminate();
    await pool.join();
  }
});

test('forkserver: setStartMethod makes it the default; Pool runs on it', async () => {
  const before = getStartMethod();
  setStartMethod('forkserver');
  try {
    assert.equal(new Process({ target: 'returns', module: TARGETS }).startMethod, 'forkserver');
    const pool = new Pool({ processes: 2 });
    try {
      assert.equal(pool.startMethod, 'forkserver');
      const out = await pool.map(
        { module: new URL('./fixtures/pool-tasks.js', import.meta.url), name: 'square' },
        [1, 2, 3, 4],
      );
      assert.deepEqual(out, [1, 4, 9, 16]);
    } finally {
      pool.terminate();
      await pool.join();
    }
  } finally {
    setStartMethod(before);
  }
});

test('forkserver: a ready warm child holds no shared memory, so killing it idle leaves nothing in /dev/shm', async () => {
  await forkserverReady();
  const warm = forkserverPids();
  assert.ok(warm.length >= 1);
  const shm = () =>
    readdirSync('/dev/shm').filter((n) =>
      warm.some((pid) => n.startsWith(`procq-${pid}-`) || n.startsWith(`procq-reg-${pid}-`)),
    );
  assert.deepEqual(shm(), []);
  for (const pid of warm) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 200 && forkserverPids().some((pid) => warm.includes(pid)); i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  assert.deepEqual(shm(), []);
  // The replacements come up and serve a start as ever.
  const q = new Queue<unknown>();
  const p = start('putsBack', [q, 'after'], FS_TARGETS);
  assert.equal(((await q.get({ timeout: 30_000 })) as unknown[])[2], 'after');
  await p.join();
  assert.equal(p.exitCode, 0);
});

test('forkserver: idle warm children are the only children left, and end with stopForkserver()', async () => {
  await forkserverReady();
  const warm = forkserverPids();
  assert.deepEqual(runningChildPids({ warm: true }).sort(), [...warm].sort());
  stopForkserver();
  for (let i = 0; i < 200 && runningChildPids({ warm: true }).length > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  assert.deepEqual(runningChildPids({ warm: true }), []);
});
