/** One signal shared by many pending waits: one listener on the signal, every wait aborted, nothing lost. */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { Event, Pipe, Queue, wait } from '../src/index.js';

function collectWarnings(): { warnings: string[]; stop: () => void } {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  return { warnings, stop: () => process.off('warning', onWarning) };
}

const tick = () => new Promise((r) => setImmediate(r));

test('100 gets, event waits, recvs and wait() calls on one signal: one listener, no warning, all AbortError, the queue intact', async () => {
  const { warnings, stop } = collectWarnings();
  const q = new Queue<number>();
  const ev = new Event();
  const [a, b] = Pipe();
  try {
    const ac = new AbortController();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) calls.push(q.get({ signal: ac.signal }));
    for (let i = 0; i < 20; i++) calls.push(ev.wait({ signal: ac.signal }));
    for (let i = 0; i < 20; i++) calls.push(wait([q, a], { signal: ac.signal }));
    calls.push(a.recv({ signal: ac.signal }));
    await tick();
    assert.equal(
      getEventListeners(ac.signal, 'abort').length,
      1,
      'one listener on the signal, however many waits',
    );
    ac.abort();
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r.reason as Error).name, 'AbortError');
    }
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    await tick(); // a warning is emitted on the next tick
    assert.deepEqual(warnings, []);
    // Nothing was taken by the aborted calls.
    q.putManySync([1, 2, 3]);
    assert.deepEqual(await q.getMany(3), [1, 2, 3]);
    b.send('after');
    assert.equal(await a.recv(), 'after');
  } finally {
    stop();
    q.close();
    a.close();
    b.close();
  }
});

test('waits that settle leave no listener behind; a signal reused for later waits still aborts them', async () => {
  const q = new Queue<number>();
  try {
    const ac = new AbortController();
    for (let round = 0; round < 3; round++) {
      const gets = Array.from({ length: 15 }, () => q.get({ signal: ac.signal }));
      q.putManySync(Array.from({ length: 15 }, (_, i) => round * 100 + i));
      const got = (await Promise.all(gets)).sort((x, y) => x - y);
      assert.deepEqual(
        got,
        Array.from({ length: 15 }, (_, i) => round * 100 + i),
      );
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0, `round ${round}: no listener left`);
    }
    const last = q.get({ signal: ac.signal });
    ac.abort();
    await assert.rejects(last, { name: 'AbortError' });
    assert.equal(q.qsize(), 0);
  } finally {
    q.close();
  }
});
