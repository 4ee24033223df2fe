// What a child loads before its first line, through the public API: a target whose module imports nothing from
// procq still gets working procq objects among its arguments (a queue alone: the child loads only the queue's
// module; a queue and a lock: the package root), over every start method.
import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import { Lock, Process, Queue, type StartMethod } from '../src/index.js';
import { stopForkserver } from '../src/process/popen-forkserver.js';
import { noChildrenLeft } from './helpers/util.js';

const BARE = new URL('./fixtures/bare-targets.js', import.meta.url);
const METHODS: StartMethod[] = ['spawn', 'forkserver', 'thread'];

afterEach(noChildrenLeft);
after(() => stopForkserver());

for (const startMethod of METHODS) {
  for (const withLock of [false, true]) {
    const what = withLock ? 'a queue nested in a Map and a lock' : 'a queue nested in a Map';
    test(`${startMethod}: a target that does not import procq uses ${what} it was given`, async () => {
      const q = new Queue<{ pid: number; locked: boolean | null }>();
      const inner = new Queue<string>();
      const lock = new Lock();
      const args: unknown[] = [q, new Map([['inner', inner]])];
      if (withLock) args.push(lock);
      const p = new Process({ target: 'usesWhatItGot', module: BARE, args, startMethod });
      p.start();
      assert.equal(await inner.get({ timeout: 60_000 }), 'through the nested queue');
      const got = await q.get({ timeout: 60_000 });
      await p.join();
      assert.equal(p.exitCode, 0);
      assert.equal(got.locked, withLock ? true : null);
      if (startMethod !== 'thread') assert.notEqual(got.pid, process.pid);
    });
  }
}
