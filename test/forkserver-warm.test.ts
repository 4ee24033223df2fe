// warmForkserver(n), the public way to have n warm interpreters ready before a program starts several processes
// (a job farm, a Pool): the next n starts, made at once, each take one; what changed after the warm-up (environment,
// working directory) still reaches them; nothing is left in /dev/shm; bad input is refused at the call.
// The forkserver's internals are used only to list the idle warm children and to end them at the end.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { Pool, Process, Queue, warmForkserver } from '../src/index.js';
import { forkserverPids, stopForkserver } from '../src/process/popen-forkserver.js';
import { noChildrenLeft, runningChildPids } from './helpers/util.js';

const FS_TARGETS = new URL('./fixtures/forkserver-targets.js', import.meta.url);
const POOL_TASKS = new URL('./fixtures/pool-tasks.js', import.meta.url);

afterEach(noChildrenLeft);
after(() => {
  stopForkserver();
});

/** /dev/shm names created by any of `pids`. */
const shmOf = (pids: number[]) =>
  readdirSync('/dev/shm').filter((n) =>
    pids.some((pid) => n.startsWith(`procq-${pid}-`) || n.startsWith(`procq-reg-${pid}-`)),
  );

test('warmForkserver(4): four starts made at once each run in one of the four warm interpreters, with the environment and cwd of start()', async () => {
  stopForkserver();
  process.env.PROCQ_WARM_PROBE = 'at warm-up';
  await warmForkserver(4);
  const warm = forkserverPids();
  assert.equal(warm.length, 4, `four ready: ${warm}`);
  assert.deepEqual(shmOf(warm), [], 'idle warm interpreters hold no shared memory');
  const cwd = process.cwd();
  const dir = mkdtempSync(join(tmpdir(), 'procq-warm-'));
  process.env.PROCQ_WARM_PROBE = 'set after warm-up';
  process.chdir(dir);
  try {
    const q = new Queue<any>();
    const ps = [0, 1, 2, 3].map(() => {
      const p = new Process({
        target: 'describesStart',
        args: [q, 'PROCQ_WARM_PROBE'],
        module: FS_TARGETS,
        startMethod: 'forkserver',
      });
      p.start();
      return p;
    });
    assert.deepEqual(ps.map((p) => p.pid).sort(), [...warm].sort(), 'every start took a warm interpreter');
    for (let i = 0; i < 4; i++) {
      const seen = await q.get({ timeout: 30_000 });
      assert.equal(seen.env, 'set after warm-up');
      assert.equal(seen.cwd, dir);
    }
    await Promise.all(ps.map((p) => p.join()));
    assert.deepEqual(
      ps.map((p) => p.exitCode),
      [0, 0, 0, 0],
    );
    assert.deepEqual(shmOf(warm), [], 'the children left nothing in /dev/shm');
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
    delete process.env.PROCQ_WARM_PROBE;
  }
  // The set is kept at four: they come back after the starts.
  await warmForkserver(4);
  const again = forkserverPids();
  assert.equal(again.length, 4);
  assert.ok(!again.some((pid) => warm.includes(pid)), 'new interpreters, not the used ones');
});

test('warmForkserver(2, { practise: false }) then Pool({ processes: 2 }): the workers are the warm interpreters', async () => {
  stopForkserver();
  await warmForkserver(2, { practise: false });
  const warm = forkserverPids();
  assert.equal(warm.length, 2);
  const pool = new Pool({ processes: 2, startMethod: 'forkserver' });
  try {
    const seen = new Set<number>();
    for (let round = 0; round < 50 && seen.size < 2; round++) {
      const out = (await pool.map({ module: POOL_TASKS, name: 'whereAmI' }, [0, 1, 2, 3], {
        chunksize: 1,
      })) as {
        pid: number;
      }[];
      for (const o of out) seen.add(o.pid);
    }
    assert.deepEqual([...seen].sort(), [...warm].sort());
  } finally {
    pool.terminate();
    await pool.join();
  }
});

test('warmForkserver: a bad count rejects with a RangeError at the call; an aborted wait rejects with AbortError; 0 ends the idle ones', async () => {
  for (const bad of [-1, 1.5, Number.NaN, 1000, '2' as unknown as number]) {
    await assert.rejects(warmForkserver(bad), RangeError, `count ${String(bad)}`);
  }
  await assert.rejects(warmForkserver(1, { practise: 'yes' as unknown as boolean }), TypeError);
  stopForkserver();
  const ac = new AbortController();
  ac.abort(new Error('not now'));
  await assert.rejects(warmForkserver(2, { signal: ac.signal }), { name: 'AbortError' });
  // The interpreters asked for still come up and serve later starts.
  await warmForkserver(2);
  assert.equal(forkserverPids().length, 2);
  await warmForkserver(0);
  for (let i = 0; i < 200 && runningChildPids({ warm: true }).length > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  assert.deepEqual(runningChildPids({ warm: true }), []);
});

test('a start that takes a warm interpreter still booting (before its practice is over) runs its target, and each job arrives once', async () => {
  stopForkserver();
  // Two practising interpreters asked for, without waiting for them (an aborted wait still starts them).
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(warmForkserver(2, { signal: ac.signal }), { name: 'AbortError' });
  assert.equal(forkserverPids().length, 2);
  const q = new Queue<any>();
  const out = new Queue<number>();
  // No warm interpreter is ready: these starts take ones that are still loading or practising.
  const ps = [0, 1].map(() => {
    const p = new Process({
      target: 'sums',
      args: [q, out, 500],
      module: FS_TARGETS,
      startMethod: 'forkserver',
    });
    p.start();
    return p;
  });
  for (let i = 1; i <= 1000; i++) await q.put(i);
  const total = (await out.get({ timeout: 60_000 })) + (await out.get({ timeout: 60_000 }));
  assert.equal(total, (1000 * 1001) / 2);
  await Promise.all(ps.map((p) => p.join()));
  assert.deepEqual(
    ps.map((p) => p.exitCode),
    [0, 0],
  );
});
