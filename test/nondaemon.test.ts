// A child waits, after its target returns, for the non-daemon work the target started (Python's rule; see
// src/process/nondaemon.ts), and does not wait for daemon work. Both start methods.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { activeChildren, Process, Queue, type StartMethod } from '../src/index.js';
import { loadNative } from '../src/native/index.js';
import { startsGrandchild, startsSubprocess, startsWorker } from './fixtures/api-targets.js';
import { PROCESS_METHOD } from './helpers/util.js';

const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';
const dir = mkdtempSync(join(tmpdir(), 'procq-nondaemon-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Long enough that a child which waited for it would fail the test's bound on join(). */
const DAEMON_DELAY_MS = 60_000;

async function run<F extends (...args: any[]) => unknown>(
  target: F,
  args: Parameters<F>,
  startMethod: StartMethod,
): Promise<{ exitCode: number | null; ms: number }> {
  const t0 = performance.now();
  const p = new Process({ target, args, startMethod, daemon: false } as never);
  p.start();
  await p.join(30_000);
  const exitCode = p.exitCode;
  if (exitCode === null) p.kill();
  return { exitCode, ms: performance.now() - t0 };
}

for (const method of ['thread', PROCESS_METHOD] as const) {
  describe(`non-daemon work started by a child (${method})`, {
    skip: method !== 'thread' && !canSpawn,
  }, () => {
    test('a non-daemon procq Process it started: the parent sees its item and exit code 0 only after', async () => {
      for (const grandchild of ['thread', PROCESS_METHOD] as const) {
        if (grandchild !== 'thread' && !canSpawn) continue;
        const q = new Queue<string>();
        const { exitCode } = await run(startsGrandchild, [q, 'late item', 300, grandchild, false], method);
        assert.equal(exitCode, 0);
        assert.equal(q.qsize(), 1, `grandchild ${grandchild}: its item is there once the child has exited`);
        assert.equal(q.getNowait(), 'late item');
        q.close();
      }
    });

    test('a daemon procq Process it started is not waited for (it ends with the child)', async () => {
      const q = new Queue<string>();
      const { exitCode, ms } = await run(
        startsGrandchild,
        [q, 'never', DAEMON_DELAY_MS, 'thread', true],
        method,
      );
      assert.equal(exitCode, 0);
      assert.ok(ms < DAEMON_DELAY_MS / 2, `joined after ${Math.round(ms)} ms`);
      assert.equal(q.qsize(), 0);
      q.close();
    });

    test("a worker thread it started (ref'd) is waited for; an unref'd one is a daemon", async () => {
      const file = join(dir, `worker-${method}`);
      assert.equal((await run(startsWorker, [file, 300, false], method)).exitCode, 0);
      assert.ok(existsSync(file), 'the worker finished before the child exited');
      const daemonFile = join(dir, `daemon-worker-${method}`);
      const daemon = await run(startsWorker, [daemonFile, DAEMON_DELAY_MS, true], method);
      assert.equal(daemon.exitCode, 0);
      assert.ok(daemon.ms < DAEMON_DELAY_MS / 2);
      assert.equal(existsSync(daemonFile), false);
    });

    test("a child process it started (ref'd) is waited for", async () => {
      const file = join(dir, `subprocess-${method}`);
      assert.equal((await run(startsSubprocess, [file, 300, false], method)).exitCode, 0);
      assert.ok(existsSync(file), 'the subprocess finished before the child exited');
    });

    test('nothing is left running', () => {
      assert.deepEqual(activeChildren(), []);
    });
  });
}
