// The Queue contract over SharedArrayBuffer segments (PROCQ_SEGMENT=sab: the thread-only fallback without the native
// addon): in one thread, across in-process and worker-thread peers, and the seed's programs with threads.
// The variable is set before procq creates any segment (procq reads it at each creation; spawned scripts inherit it).
process.env.PROCQ_SEGMENT = 'sab';

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Process, ProcessError, Queue } from '../src/index.js';
import { installQueueSuite } from './helpers/queue-suite.js';

installQueueSuite('sab');

test('a thread-only queue cannot reach a spawned process: start() says so, nothing is started', () => {
  const q = new Queue<string>();
  const p = new Process({
    target: 'echo',
    module: new URL('./fixtures/queue-peers.js', import.meta.url),
    args: ['async', q, q, 1],
    startMethod: 'spawn',
  });
  assert.throws(
    () => p.start(),
    (e: unknown) => e instanceof ProcessError && /thread-only|SharedArrayBuffer/.test(e.message),
  );
  assert.equal(p.pid, undefined);
  q.putNowait('still usable');
  assert.equal(q.getNowait(), 'still usable');
});
