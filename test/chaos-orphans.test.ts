/**
 * A procq parent killed with SIGKILL leaves no child running (children, grandchildren, blocked in futex waits or
 * in the event loop) and, after the next procq start or a sweep, no segment in /dev/shm; a parent that exits
 * normally leaves no segment at all. Segments are created with mode 0600.
 *
 * The parent is test/fixtures/chaos-parent.ts, run as a separate program.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';

import { sweepSegments } from '../src/memory/shm-segment.js';
import { loadNative } from '../src/native/index.js';

const skip = loadNative() === null ? 'the native addon is not built: no process can share a queue' : false;
const PARENT = new URL('./fixtures/chaos-parent.js', import.meta.url).pathname;
const SRC_INDEX = new URL('../src/index.js', import.meta.url).href;
const STEP_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Started {
  parent: number;
  segments: string[];
  reports: { pid: number; ppid: number; role: string; segment: string; grandchild?: number }[];
}

/** Whether `pid` runs (a zombie has ended: it only waits for its reaper). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !'ZX'.includes(stat[stat.lastIndexOf(')') + 2]!);
  } catch {
    return false;
  }
}

/** Segments in /dev/shm created by one of `pids`. */
function segmentsOf(pids: number[]): string[] {
  return readdirSync('/dev/shm').filter((n) => pids.some((pid) => n.startsWith(`procq-${pid}-`)));
}

/** Starts the fixture parent and reads its JSON line (everyone started and reported). */
async function startParent(
  mode: string,
): Promise<{ proc: ChildProcess; started: Started; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [PARENT, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let out = '';
  proc.stdout!.setEncoding('utf8');
  const started = await new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the parent did not report in time')), STEP_MS);
    proc.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    proc.once('exit', () => reject(new Error(`the parent exited before reporting: ${out}`)));
  });
  return { proc, started, exited };
}

function pidsOf(s: Started): number[] {
  return s.reports.map((r) => r.pid).filter((pid) => pid !== s.parent);
}

/** Every segment the parent and its processes created exists now, with mode 0600. */
function checkSegments(s: Started): string[] {
  const names = [...s.segments, ...s.reports.map((r) => r.segment)];
  for (const name of names) {
    const path = `/dev/shm/${name}`;
    assert.ok(existsSync(path), `${name} exists while its creator runs`);
    assert.equal(statSync(path).mode & 0o777, 0o600, `${name} has mode 0600`);
  }
  return names;
}

async function allEnd(pids: number[], ms: number): Promise<number> {
  const t0 = performance.now();
  while (pids.some(running)) {
    if (performance.now() - t0 > ms) break;
    await sleep(5);
  }
  return performance.now() - t0;
}

/** Kills whatever of `pids` still runs and removes their segments (cleanup after a failure). */
async function reap(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      if (running(pid)) process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await allEnd(pids, 5000);
  for (const pid of pids) sweepSegments({ pid });
}

test('a parent killed with SIGKILL: no child or grandchild keeps running, and the next procq start sweeps every segment', {
  skip,
}, async (t) => {
  const { proc, started, exited } = await startParent('kill');
  const pids = pidsOf(started);
  try {
    assert.equal(started.reports.length, 6);
    assert.equal(pids.length, 5, 'three children and two grandchildren (the thread shares the parent pid)');
    const names = checkSegments(started);
    assert.ok(pids.every(running));

    proc.kill('SIGKILL');
    await exited;
    const ms = await allEnd(pids, 5000);
    assert.deepEqual(pids.filter(running), [], 'orphans still running');
    t.diagnostic(`all children and the grandchild ended ${ms.toFixed(0)} ms after the parent's death`);

    // Killed processes cannot unlink: their names stay until the next procq start sweeps them.
    assert.ok(segmentsOf([started.parent, ...pids]).length > 0);
    const fresh = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { Queue } = await import(${JSON.stringify(SRC_INDEX)}); new Queue();`,
      ],
      { encoding: 'utf8', timeout: STEP_MS },
    );
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.deepEqual(
      names.filter((n) => existsSync(`/dev/shm/${n}`)),
      [],
      'segments of dead processes left after the next procq start',
    );
  } finally {
    await reap([started.parent, ...pids]);
  }
});

test('sweepSegments({ pid }) removes what one killed parent left', { skip }, async () => {
  const { proc, started, exited } = await startParent('kill');
  const pids = pidsOf(started);
  try {
    checkSegments(started);
    proc.kill('SIGKILL');
    await exited;
    await allEnd(pids, 5000);
    assert.deepEqual(pids.filter(running), [], 'orphans still running');
    const removed = [started.parent, ...pids].flatMap((pid) => sweepSegments({ pid }));
    assert.ok(removed.length > 0);
    assert.deepEqual(segmentsOf([started.parent, ...pids]), []);
  } finally {
    await reap([started.parent, ...pids]);
  }
});

for (const mode of ['normal', 'normal-daemon']) {
  test(`a parent that exits normally (${mode === 'normal' ? 'every child finished' : 'a daemon child and its child still blocked'}) leaves no process and no segment`, {
    skip,
  }, async () => {
    const { proc, started, exited } = await startParent(mode);
    const pids = pidsOf(started);
    try {
      checkSegments(started);
      proc.stdin!.end('go\n');
      // Any other procq process that starts meanwhile sweeps the names of dead creators: look at a process's names
      // the moment it has ended (polling every millisecond), not only at the end. Not a terminated daemon's (nor its
      // child's): its parent may clean up after it once it is dead, so its names are looked at once the parent has
      // exited. On a machine where other procq programs start all the time, a leak can still be swept away before
      // it is seen (a false pass).
      const daemons = started.reports.filter((r) => r.role.startsWith('daemon')).map((r) => r.pid);
      const all = [started.parent, ...pids];
      const left = new Set<string>();
      const looked = new Set<number>(mode === 'normal-daemon' ? daemons : []);
      let code: number | null | 'timeout' = 'timeout';
      void exited.then((c) => {
        code = c;
      });
      const deadline = performance.now() + STEP_MS;
      while (looked.size < all.length && performance.now() < deadline) {
        for (const pid of all) {
          if (looked.has(pid) || running(pid)) continue;
          looked.add(pid);
          for (const name of segmentsOf([pid])) left.add(name);
        }
        await sleep(1);
      }
      await Promise.race([exited, sleep(1000)]);
      assert.equal(code, 0, 'the parent exits normally');
      assert.deepEqual(pids.filter(running), [], 'children still running');
      for (const name of segmentsOf(all)) left.add(name);
      const role = (name: string) =>
        started.reports.find((r) => r.segment === name)?.role ??
        (started.segments.includes(name) ? 'parent' : '?');
      assert.deepEqual(
        [...left].map((n) => `${n} (created by: ${role(n)})`),
        [],
        'segments left in /dev/shm after a normal exit',
      );
    } finally {
      await reap([started.parent, ...pids]);
    }
  });
}
