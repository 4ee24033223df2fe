// The Queue contract over SharedArrayBuffer segments (PROCQ_SEGMENT=sab: the thread-only fallback without the native
// addon): in one thread, across in-process and worker-thread peers, and the seed's programs with threads.
// The variable is set before procq creates any segment (procq reads it at each creation; spawned scripts inherit it).
process.env.PROCQ_SEGMENT = 'sab';

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Full, Process, ProcessError, Queue } from '../src/index.js';
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

test('an unbounded thread-only queue at its largest ring: a sync put with no room waits for a take, then puts', async () => {
  const q = new Queue<Uint8Array>();
  const res = new Queue<unknown>();
  const item = new Uint8Array(1 << 20).fill(7);
  let put = 0;
  assert.throws(() => {
    for (; put < 1000; put++) q.putSync(item, { timeout: 20 }); // 1 MiB items until the ring can grow no further
  }, Full);
  assert.ok(put > 0 && put < 1000, `${put} items before the ring was full`);
  const p = new Process({
    target: 'blockedPut',
    module: new URL('./fixtures/queue-peers.js', import.meta.url),
    args: ['sync', q, res, item, 20_000],
    startMethod: 'thread',
  });
  p.start();
  assert.equal(await res.get({ timeout: 20_000 }), 'ready');
  await sleep(100); // most likely blocked by now; if not, its put finds the room made below at once
  // Two takes: one frees exactly an item's bytes, and a frame needs its header too.
  for (let i = 0; i < 2; i++) assert.deepEqual(q.getSync().subarray(0, 2), new Uint8Array([7, 7]));
  assert.deepEqual(await res.get({ timeout: 20_000 }), { ok: true, value: undefined });
  await p.join(20_000);
  assert.equal(q.qsize(), put - 1);
  q.close();
  res.close();
});
