/**
 * The resource tracker and the sweep: every segment a tree of processes creates is removed once the last process
 * of the tree has ended, however it ended; the sweep never removes a segment whose creator lives in another pid
 * namespace. Each case runs test/fixtures/tracker-program.ts as a program of its own (its own tree: it is started
 * without this process's PROCQ_TRACKER).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';

import { Queue } from '../src/index.js';
import { pidNamespace, sweepSegments } from '../src/memory/shm-segment.js';
import { loadNative } from '../src/native/index.js';

const PROGRAM = new URL('./fixtures/tracker-program.js', import.meta.url).pathname;
const noNative =
  loadNative() === null ? 'the native addon is not built: no shared memory between processes' : false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exists = (name: string) => existsSync(`/dev/shm/${name.replace(/^\//, '')}`);

interface Started {
  proc: ChildProcess;
  info: Record<string, any>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the program as a tree of its own and reads its JSON line. */
async function start(args: string[], command: string[] = [process.execPath, PROGRAM]): Promise<Started> {
  const proc = spawn(command[0]!, [...command.slice(1), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, PROCQ_TRACKER: undefined },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = createInterface({ input: proc.stdout! });
  const first = await Promise.race([
    new Promise<string>((resolve) => lines.once('line', resolve)),
    exited.then((e) => {
      throw new Error(`the program ended before reporting: ${JSON.stringify(e)}`);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the program did not report within 30 s')), 30_000).unref(),
    ),
  ]).catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return { proc, info: JSON.parse(first), exited };
}

/** Waits until none of `names` exists (the tracker works within milliseconds); returns those still there. */
async function goneWithin(names: string[], ms: number): Promise<string[]> {
  const until = performance.now() + ms;
  let left = names.filter(exists);
  while (left.length > 0 && performance.now() < until) {
    await sleep(20);
    left = left.filter(exists);
  }
  return left;
}

function kill(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    if (pid !== undefined) process.kill(pid, signal);
  } catch {
    // already gone
  }
}

describe('the resource tracker', { skip: noNative }, () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} in the creator: Node's default exit, and its segments are removed`, async () => {
      const run = await start(['signal', signal]);
      const names: string[] = run.info.names;
      assert.ok(names.length >= 2, `expected a queue's and a lock's segments, got ${names}`);
      const ended = await run.exited;
      assert.deepEqual(ended, { code: null, signal }, 'the process ends by the signal, as without procq');
      assert.deepEqual(await goneWithin(names, 5000), [], 'segments left after the creator ended');
    });
  }

  test('SIGKILL of the whole tree (parent and children at once): every segment of the tree is removed', async () => {
    const run = await start(['tree']);
    const { pid, pids, names } = run.info as { pid: number; pids: number[]; names: string[] };
    after(() => {
      for (const p of [pid, ...pids]) kill(p);
    });
    assert.equal(names.length >= 3, true, `a segment per process expected, got ${names}`);
    assert.ok(
      pids.every((p) => names.some((n) => n.startsWith(`procq-${p}-`))),
      'each child created a segment',
    );
    for (const p of [pid, ...pids]) kill(p);
    await run.exited;
    assert.deepEqual(await goneWithin(names, 5000), [], 'segments left after the tree was killed');
  });

  test('a segment stays while any process of the tree lives (a descendant that is not procq included)', async () => {
    const run = await start(['holder']);
    const { pid, sleeper, names } = run.info as { pid: number; sleeper: number; names: string[] };
    try {
      kill(pid);
      await run.exited;
      await sleep(300);
      assert.deepEqual(names.filter(exists), names, 'removed while a process of the tree still lives');
    } finally {
      kill(sleeper);
    }
    assert.deepEqual(
      await goneWithin(names, 5000),
      [],
      'segments left after the last process of the tree ended',
    );
  });
});

/** Whether this machine lets us start a process in a new pid namespace (root, unshare(1) present). */
function unshareWorks(): string | false {
  const r = spawnSync('unshare', ['-p', '-f', '--mount-proc', 'true'], { encoding: 'utf8' });
  if (r.error !== undefined)
    return `unshare(1) cannot run here (${r.error.message}): no second pid namespace`;
  if (r.status !== 0)
    return `unshare -p -f --mount-proc is refused here (${r.stderr.trim()}): needs root or user namespaces`;
  return false;
}

describe('the sweep and pid namespaces', { skip: noNative || unshareWorks() }, () => {
  test('a process in another pid namespace sharing /dev/shm never sweeps our live segments, nor we its', async () => {
    assert.notEqual(pidNamespace(), '0', 'our pid namespace is known');
    const ours = new Queue();
    const ourName = (ours._engine.seg as unknown as { name: string }).name;
    // A program in a new pid namespace (its pids start at 1 again) and the same /dev/shm: its sweep sees our
    // name, whose pid means some other process (or none) there.
    const unshare = ['unshare', '-p', '-f', '--mount-proc', process.execPath, PROGRAM];
    const sweeper = await start(['ns-sweep'], unshare);
    assert.deepEqual(sweeper.info.removed, [], 'the other namespace swept names it cannot judge');
    await sweeper.exited;
    assert.ok(exists(ourName), 'our live segment was removed by a sweep in another namespace');

    // The other way: a live program in another namespace; its pid (1 or 2 there) is alive here as someone else.
    const inner = await start(['ns-create'], unshare);
    const names: string[] = readdirSync('/dev/shm').filter((n) => (inner.info.names as string[]).includes(n));
    try {
      assert.ok(names.length > 0, `the inner program's segments: ${inner.info.names}`);
      assert.notEqual(names[0]!.split('-')[3], pidNamespace(), 'its names carry its own namespace');
      const removed = sweepSegments();
      assert.deepEqual(
        removed.filter((n) => names.includes(n.slice(1))),
        [],
        'our sweep removed a live segment of another namespace',
      );
      assert.deepEqual(names.filter(exists), names);
    } finally {
      inner.proc.stdin!.end();
      await inner.exited;
    }
    assert.deepEqual(await goneWithin(names, 5000), [], 'the inner program left its segments');
  });
});
