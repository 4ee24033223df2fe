// wait / waitSync: CPython's TestWait ported (pipes, sockets, processes), in both start methods, plus Queues and
// the sync form. Children send at random times; every message must be seen, exactly once, with no polling.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Client, Listener, type SocketConnection, wait, waitSync } from '../src/connection/index.js';
import { AbortError, ClosedError, ProcessError } from '../src/errors.js';
import { type Connection, Pipe, Process, Queue, type StartMethod } from '../src/index.js';
import { loadNative } from '../src/native/index.js';
import { Semaphore } from '../src/sync/index.js';
import { noChildrenLeft, PROCESS_METHOD } from './helpers/util.js';

const TARGETS = new URL('./fixtures/wait-targets.js', import.meta.url);
const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';

afterEach(noChildrenLeft);

for (const startMethod of [PROCESS_METHOD, 'thread'] as StartMethod[]) {
  const skip = startMethod !== 'thread' && !canSpawn && 'spawn needs the native addon';
  describe(`TestWait (${startMethod})`, { skip }, () => {
    for (const slow of [false, true]) {
      test(slow ? 'test_wait_slow' : 'test_wait', async () => {
        let readers: Connection[] = [];
        const procs: Process[] = [];
        const messages: string[] = [];
        for (let i = 0; i < 4; i++) {
          const [r, w] = Pipe(false);
          const p = new Process({
            target: 'childTestWait',
            module: TARGETS,
            args: [w, slow],
            startMethod,
            daemon: true,
          });
          p.start();
          w.close();
          readers.push(r);
          procs.push(p);
        }
        while (readers.length > 0) {
          const ready = await wait(readers);
          assert.ok(ready.length > 0);
          for (const r of ready) {
            try {
              const [i, , name] = (await r.recv({ timeout: 0 })) as [number, number, string];
              messages.push(`${name}:${i}`);
            } catch (err) {
              assert.equal((err as Error).name, 'EOFError');
              readers = readers.filter((x) => x !== r);
              r.close();
            }
          }
        }
        await Promise.all(procs.map((p) => p.join()));
        const expected = procs.flatMap((p) => Array.from({ length: 10 }, (_, i) => `${p.name}:${i}`));
        assert.deepEqual(messages.sort(), expected.sort());
      });

      test(slow ? 'test_wait_socket_slow' : 'test_wait_socket', async () => {
        const l = await Listener.create(['127.0.0.1', 0], { backlog: 4 });
        const procs: Process[] = [];
        for (let i = 0; i < 4; i++) {
          const p = new Process({
            target: 'childTestWaitSocket',
            module: TARGETS,
            args: [l.address, slow],
            startMethod,
            daemon: true,
          });
          p.start();
          procs.push(p);
        }
        let readers: SocketConnection[] = [];
        const got = new Map<SocketConnection, string>();
        for (let i = 0; i < 4; i++) {
          const r = await l.accept();
          readers.push(r);
          got.set(r, '');
        }
        l.close();
        while (readers.length > 0) {
          for (const r of await wait(readers)) {
            try {
              got.set(r, got.get(r)! + (await r.recv({ timeout: 0 })));
            } catch (err) {
              assert.equal((err as Error).name, 'EOFError');
              readers = readers.filter((x) => x !== r);
              r.close();
            }
          }
        }
        const expected = Array.from({ length: 10 }, (_, i) => `${i}\n`).join('');
        for (const v of got.values()) assert.equal(v, expected);
        await Promise.all(procs.map((p) => p.join()));
      });
    }

    test('test_wait_integer: a Process is ready once it has ended, with pipes beside it', async () => {
      const sem = new Semaphore(0);
      const [a, b] = Pipe();
      const p = new Process({ target: 'signalAndSleep', module: TARGETS, args: [sem, 300], startMethod });
      p.start();
      assert.equal(await sem.acquire({ timeout: 20_000 }), true);
      let res = await wait<Connection | Process>([a, p, b], { timeout: 20_000 });
      assert.deepEqual(res, [p]);
      assert.notEqual(p.exitCode, null);
      a.send(null);
      res = await wait<Connection | Process>([a, p, b], { timeout: 20_000 });
      assert.deepEqual(res, [p, b]);
      b.send(null);
      res = await wait<Connection | Process>([a, p, b], { timeout: 20_000 });
      assert.deepEqual(res, [a, p, b]);
      await p.join();
    });

    test('Queues: ready with an item or once shut down; waitSync sees an item put by a child', async () => {
      const q1 = new Queue<number>();
      const q2 = new Queue<number>();
      const p = new Process({
        target: 'putSlowly',
        module: TARGETS,
        args: [q2, 3, 20],
        startMethod,
        daemon: true,
      });
      p.start();
      const seen: number[] = [];
      while (seen.length < 3) {
        const ready = await wait([q1, q2], { timeout: 20_000 });
        assert.deepEqual(ready, [q2]);
        seen.push(await q2.get({ timeout: 0 }));
      }
      assert.deepEqual(seen, [0, 1, 2]);
      await p.join();
      const p2 = new Process({
        target: 'putSlowly',
        module: TARGETS,
        args: [q1, 1, 50],
        startMethod,
        daemon: true,
      });
      p2.start();
      assert.deepEqual(waitSync([q2, q1], { timeout: 20_000 }), [q1]);
      assert.equal(q1.getNowait(), 0);
      await p2.join();
      q2.shutdown();
      assert.deepEqual(await wait([q1, q2]), [q2]);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until `q` has `n` advertised getters (sleepers on its getters' word), then a while for the last to fall asleep. */
async function sleepersOf(q: Queue<string>, n: number): Promise<void> {
  const until = performance.now() + 60_000;
  while (q.stats().getters < n) {
    assert.ok(performance.now() < until, `${n} sleepers expected, ${q.stats().getters} advertised`);
    await sleep(5);
  }
  await sleep(300);
}

// A put wakes one sleeper of the getters' word per item, and wait() observers sleep on that word too: the kernel wakes
// sleepers in the order they fell asleep, so an observer asleep first takes the wake-up; the getter behind it would
// then sleep out its slice. Here both sleep asynchronously (one kernel wait each, re-armed only when a slice ends)
// with 10-minute slices (PROCQ_WAIT_SLICE_MS in their processes), so that their order is fixed and "late by one
// slice" is a hang, not 100 ms that nobody can time: the get must return on the item, through the observer passing
// its wake-up on. (waitSync's kernel waits are cut into 50 ms slices that re-queue it behind such a getter, so the
// order cannot be fixed for it: it passes its wake-ups on the same way, untested here.)
describe('wait() and a real get in other processes: the get is not delayed by the observer', {
  skip: !canSpawn && 'needs OS processes (the native addon)',
}, () => {
  /** Starts `target` in a process whose every sleep is one 10-minute slice. */
  function longSlices(target: string, args: unknown[]): Process {
    process.env.PROCQ_WAIT_SLICE_MS = String(600_000);
    try {
      const p = new Process({ target, module: TARGETS, args, startMethod: 'spawn' });
      p.start();
      return p;
    } finally {
      delete process.env.PROCQ_WAIT_SLICE_MS;
    }
  }

  test('wait() asleep before an async get: the get returns on the item (2 rounds)', async () => {
    for (let round = 0; round < 2; round++) {
      const q = new Queue<string>();
      const saw = new Queue<string>();
      const got = new Queue<string>();
      const o = longSlices('observe', [q, saw]);
      await sleepersOf(q, 1);
      const g = longSlices('getOne', [q, got]);
      await sleepersOf(q, 2);
      q.putSync('item');
      assert.equal(await saw.get({ timeout: 20_000 }), 'ready', `round ${round}: the observer saw the item`);
      // Without the pass the getter would sleep for 10 minutes with the item queued.
      assert.equal(
        await got.get({ timeout: 20_000 }),
        'item',
        `round ${round}: the getter got the item within 20 s`,
      );
      await Promise.all([o.join(20_000), g.join(20_000)]);
    }
  });
});

describe('wait: timeouts, abort, bad input', () => {
  test('test_wait_timeout (short): [] after the timeout, then the ready end', async () => {
    const [a, b] = Pipe();
    const start = performance.now();
    assert.deepEqual(await wait([a, b], { timeout: 200 }), []);
    assert.ok(performance.now() - start >= 190);
    b.send(null);
    assert.deepEqual(await wait([a, b], { timeout: 20_000 }), [a]);
    assert.deepEqual(waitSync([a, b], { timeout: 20_000 }), [a]);
    assert.deepEqual(waitSync([b], { timeout: 50 }), []);
    assert.deepEqual(waitSync([b, new Queue()], { timeout: 50 }), []);
  });

  test('test_neg_timeout', async () => {
    const [a, b] = Pipe();
    assert.deepEqual(await wait([a], { timeout: -1 }), []);
    assert.deepEqual(waitSync([a], { timeout: -1 }), []);
    a.close();
    b.close();
  });

  test('a closed peer makes a connection ready (recv would throw EOFError)', async () => {
    const [a, b] = Pipe();
    const pending = wait([a]);
    b.close();
    assert.deepEqual(await pending, [a]);
    const l = await Listener.create(['127.0.0.1', 0]);
    const c = await Client(l.address);
    const d = await l.accept();
    const socketWait = wait([d]);
    c.close();
    assert.deepEqual(await socketWait, [d]);
    d.close();
    l.close();
  });

  test('abort rejects with AbortError and leaves every object as it was', async () => {
    const [a, b] = Pipe();
    const q = new Queue<number>();
    const ac = new AbortController();
    const pending = wait([a, q], { signal: ac.signal });
    ac.abort();
    await assert.rejects(pending, AbortError);
    b.send('still here');
    await q.put(1);
    assert.deepEqual(await wait([a, q]), [a, q]);
    assert.equal(await a.recv(), 'still here');
  });

  test('bad input: TypeError at the call; closed objects; unstarted process; sync over sockets', async () => {
    await assert.rejects(wait(5 as never), TypeError);
    await assert.rejects(wait([{}] as never), TypeError);
    await assert.rejects(wait([], { timeout: 'x' as never }), TypeError);
    const [a] = Pipe();
    a.close();
    await assert.rejects(wait([a]), ClosedError);
    const p = new Process({ target: 'signalAndSleep', module: TARGETS });
    await assert.rejects(wait([p]), ProcessError);
    const l = await Listener.create(['127.0.0.1', 0]);
    const c = await Client(l.address);
    assert.throws(() => waitSync([c] as never), TypeError);
    c.close();
    l.close();
    assert.deepEqual(await wait([]), []);
  });
});
