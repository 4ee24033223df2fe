// Pool, both start methods, through the public API. One suite, installed once per start method (CPython's
// _test_multiprocessing style). The functions the workers run live in test/fixtures/pool-tasks.ts (workers import
// that module; they must never import this one). Peers are coordinated with queues, never with sleeps.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  activeChildren,
  ClosedError,
  ProcessError,
  Queue,
  type StartMethod,
  TimeoutError,
} from '../src/index.js';
import { loadNative, nativeLoadError } from '../src/native/index.js';
import { AsyncResult, Pool } from '../src/pool/index.js';
import {
  add,
  exitNow,
  failOn,
  failSetup,
  park,
  readSetup,
  setup,
  slowDouble,
  square,
  throwString,
  unsendable,
  whereAmI,
} from './fixtures/pool-tasks.js';
import { poolSuite } from './helpers/pool-suite.js';
import { PROCESS_METHOD } from './helpers/util.js';

const TASKS = new URL('./fixtures/pool-tasks.js', import.meta.url);
/** Bound on every wait for a peer: a broken pool fails the test instead of hanging it. */
const WAIT_MS = 20_000;
/** What the pool says of a function it cannot find, and how it says to fix it. */
const DOES_NOT = 'does not export';
const HINT = 'export function';

type Where = ReturnType<typeof whereAmI>;

/**
 * Defined here and only here: a worker could never find it. (No line of this file may hold both its name and the
 * keyword that would publish it, or the pool's source check becomes unsure and a worker imports this test file.)
 */
function localOnly(x: number): number {
  return x;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Whether `pid` is a running process (a zombie counts as ended). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Drains an async iterator into an array. */
async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Without the native addon, queues are thread-only and spawned workers cannot be given theirs. */
const NO_SPAWN = loadNative() === null ? `no native addon: ${nativeLoadError()}` : false;

for (const method of ['thread', PROCESS_METHOD] as const satisfies readonly StartMethod[]) {
  describe(`Pool (${method})`, { skip: method !== 'thread' && NO_SPAWN }, () => {
    const suite = poolSuite<Where>(method, (options) => new Pool(options));
    const { started, release, newPool } = suite;

    test('map: results in order, for arrays, generators and empty input', async () => {
      assert.deepEqual(
        await suite.pool.map(square, range(50)),
        range(50).map((x) => x * x),
      );
      function* gen() {
        yield* [3, 1, 2];
      }
      assert.deepEqual(await suite.pool.map(square, gen()), [9, 1, 4]);
      assert.deepEqual(await suite.pool.map(square, []), []);
      assert.equal(suite.pool.processes, 2);
      assert.equal(suite.pool.startMethod, method);
    });

    test('map: chunksize groups items into one task per chunk; the results are the same', async () => {
      const expected = range(23).map((x) => x * x);
      for (const chunksize of [1, 3, 23, 100]) {
        assert.deepEqual(
          await suite.pool.map(square, range(23), { chunksize }),
          expected,
          `chunksize ${chunksize}`,
        );
      }
      // One chunk holding every item runs in one worker.
      const where = await suite.pool.map(whereAmI, range(10), { chunksize: 10 });
      assert.equal(new Set(where.map((w) => w.name)).size, 1);
      // Chunks of one spread over both workers once one is busy.
      const parked = suite.pool.applyAsync(park);
      const busy = await started.get({ timeout: WAIT_MS });
      const others = await suite.pool.map(whereAmI, range(4), { chunksize: 1 });
      assert.ok(
        others.every((w) => w.name !== busy.name),
        'tasks went to the worker that is busy',
      );
      await release.put('go');
      assert.equal(await parked, 'released');
      await assert.rejects(suite.pool.map(square, [1], { chunksize: 0 }), RangeError);
    });

    test('map awaits async functions', async () => {
      assert.deepEqual(
        await suite.pool.map(slowDouble, range(10), { chunksize: 2 }),
        range(10).map((x) => 2 * x),
      );
    });

    test('starmap: each item is an argument list', async () => {
      assert.deepEqual(
        await suite.pool.starmap(add, [
          [1, 2],
          [3, 4],
          [5, 6],
        ]),
        [3, 7, 11],
      );
      assert.deepEqual(await suite.pool.starmap(add, new Set([[10, 5] as [number, number]])), [15]);
      await assert.rejects(suite.pool.starmap(add, [1, 2] as never), /array of arguments/);
      assert.deepEqual(await suite.pool.starmapAsync(add, [[2, 2]]), [4]);
    });

    test('apply and applyAsync: value, AsyncResult state, get(timeout), wait, callbacks', async () => {
      assert.equal(await suite.pool.apply(add, [20, 22]), 42);
      assert.equal(await suite.pool.apply(slowDouble, [4]), 8);
      assert.equal(await suite.pool.applyAsync(square, [9]), 81);
      const seen: unknown[] = [];
      const result = suite.pool.applyAsync(park, [], { callback: (v) => seen.push(v) });
      assert.ok(result instanceof AsyncResult);
      await started.get({ timeout: WAIT_MS });
      assert.equal(result.ready(), false);
      assert.throws(() => result.successful(), { code: 'PROCQ_NOT_READY' });
      await assert.rejects(result.get(20), TimeoutError);
      await result.wait(20); // resolves on timeout, without the value
      assert.equal(result.ready(), false);
      await release.put('go');
      await result.wait();
      assert.equal(result.ready(), true);
      assert.equal(result.successful(), true);
      assert.equal(await result.get(0), 'released');
      assert.deepEqual(seen, ['released']);

      const errors: unknown[] = [];
      const failed = suite.pool.applyAsync(failOn, [3], { errorCallback: (e) => errors.push(e) });
      await failed.wait();
      assert.equal(failed.successful(), false);
      await assert.rejects(failed.get(), TypeError);
      assert.equal(errors.length, 1);

      const mapped = await suite.pool.mapAsync(square, [1, 2, 3], { chunksize: 2 }).get(WAIT_MS);
      assert.deepEqual(mapped, [1, 4, 9]);
      await assert.rejects(suite.pool.apply(add, 5 as never), /array of arguments/);
    });

    test('an error in the function rejects with the remote message, class, properties and stack; the pool goes on', async () => {
      await assert.rejects(suite.pool.map(failOn, range(8), { chunksize: 2 }), (error: any) => {
        assert.ok(error instanceof TypeError);
        assert.equal(error.message, 'item 3 is bad');
        assert.equal((error as TypeError & { code?: string }).code, 'E_BAD_ITEM');
        assert.match(
          String(error.stack),
          /^TypeError: item 3 is bad\n\s+at failOn \(.*pool-tasks\.js:\d+:\d+\)/,
        );
        return true;
      });
      await assert.rejects(suite.pool.apply(throwString), (error) => error === 'plain string');
      await assert.rejects(suite.pool.apply(unsendable), /cannot be sent back to the pool/);
      await assert.rejects(suite.pool.apply(square, [() => 1] as never), TypeError); // arguments that do not clone
      if (NO_SPAWN)
        await assert.rejects(suite.pool.apply(square, [new Queue()] as never), /pool's `initargs`/);
      // Still working, with both workers.
      assert.deepEqual(
        await suite.pool.map(square, range(10)),
        range(10).map((x) => x * x),
      );
    });

    test('a function that cannot be found rejects and says what to export', async () => {
      await assert.rejects(suite.pool.map(localOnly, [1]), (error: Error) => {
        assert.ok(error instanceof ProcessError);
        assert.ok(error.message.includes(`${DOES_NOT} '${localOnly.name}'`), error.message);
        assert.ok(error.message.includes(`${HINT} ${localOnly.name}(`), error.message);
        return true;
      });
      await assert.rejects(suite.pool.apply({ module: TASKS, name: 'nope' }), /does not export 'nope'/);
      await assert.rejects(
        suite.pool.apply({ module: TASKS, name: 'notAFunction' }),
        /is a number, not a function/,
      );
      await assert.rejects(
        suite.pool.apply('square', [2]),
        (e: Error) => e instanceof TypeError && /module/.test(e.message),
      );
      await assert.rejects(suite.pool.apply(42 as never), TypeError);
      await assert.rejects(
        suite.pool.map((x: number) => x, [1]),
        /has no name/,
      );
      const iterator = suite.pool.imap(localOnly, [1]);
      assert.equal(Object.prototype.toString.call(iterator), '[object IMapIterator]');
      await assert.rejects(iterator.next(), ProcessError);
      assert.deepEqual(await iterator.next(), { done: true, value: undefined });
      // Named functions work with a module.
      assert.equal(await suite.pool.apply({ module: TASKS, name: 'square' }, [5]), 25);
      assert.equal(await suite.pool.apply({ module: TASKS, name: square }, [6]), 36);
      const named = newPool({ module: TASKS, processes: 1 });
      assert.deepEqual(await named.map('square', [1, 2]), [1, 4]);
    });

    test('imap: results in order, for any chunksize; an error ends the iteration at its place', async () => {
      for (const chunksize of [1, 4]) {
        assert.deepEqual(
          await collect(suite.pool.imap(square, range(30), { chunksize })),
          range(30).map((x) => x * x),
        );
      }
      const seen: number[] = [];
      await assert.rejects(async () => {
        for await (const x of suite.pool.imap(failOn, [1, 2, 3, 4, 5])) seen.push(x);
      }, /item 3 is bad/);
      assert.deepEqual(seen, [1, 2]);
      // An iterable that throws: its error comes in its place.
      function* broken() {
        yield 1;
        throw new Error('source broke');
      }
      const got: number[] = [];
      await assert.rejects(async () => {
        for await (const x of suite.pool.imap(square, broken())) got.push(x);
      }, /source broke/);
      assert.deepEqual(got, [1]);
    });

    test('imap is lazy: an endless iterable is read only a little ahead, and break stops it', async () => {
      let read = 0;
      function* naturals() {
        for (let i = 0; ; i++) {
          read++;
          yield i;
        }
      }
      const first: number[] = [];
      for await (const x of suite.pool.imap(square, naturals())) {
        first.push(x);
        if (first.length === 5) break;
      }
      assert.deepEqual(first, [0, 1, 4, 9, 16]);
      const readAtBreak = read;
      assert.ok(readAtBreak <= 5 + 4 * suite.pool.processes + 1, `read ${readAtBreak} items for 5 results`);
      assert.equal(await suite.pool.apply(square, [3]), 9); // the pool works on, and reads no more
      assert.equal(read, readAtBreak);
    });

    test('imapUnordered yields every result once', async () => {
      for (const chunksize of [1, 4]) {
        const got = await collect(suite.pool.imapUnordered(square, range(40), { chunksize }));
        assert.deepEqual(
          got.sort((a, b) => a - b),
          range(40).map((x) => x * x),
        );
      }
      // The result of a quick task comes before that of one still running.
      const order: unknown[] = [];
      const iterator = suite.pool.imapUnordered({ module: TASKS, name: 'parkOrSquare' }, ['park', 7]);
      const consumer = (async () => {
        for await (const r of iterator) {
          order.push(r);
          if (order.length === 1) await release.put('go');
        }
      })();
      await started.get({ timeout: WAIT_MS });
      await consumer;
      assert.deepEqual(order, [49, 'released']);
    });

    test('a worker that dies fails the task it was running; its waiting tasks run elsewhere; a new worker takes its place', async () => {
      const single = newPool({ processes: 1 });
      const before = await single.apply(whereAmI);
      // One worker: exitNow runs, square(3) waits in its inbox, square(4) waits in the pool.
      const dying = single.applyAsync(exitNow, [7]);
      const waiting = single.applyAsync(square, [3]);
      const queued = single.applyAsync(square, [4]);
      await assert.rejects(dying.get(WAIT_MS), (error: Error) => {
        assert.ok(error instanceof ProcessError);
        assert.match(error.message, /pool worker \w+PoolWorker-\d+ \((pid|thread) \d+\) exited with code 7/);
        return true;
      });
      assert.equal(await waiting.get(WAIT_MS), 9);
      assert.equal(await queued.get(WAIT_MS), 16);
      const now = await single.apply(whereAmI);
      assert.notEqual(now.name, before.name);
      assert.deepEqual(await single.map(square, range(5)), [0, 1, 4, 9, 16]);
    });

    test('many calls in flight, workers dying among them: exactly the dying calls fail, none hangs', async () => {
      const chaotic = newPool();
      const calls = range(300).map((i) =>
        i % 100 === 50 ? chaotic.applyAsync(exitNow, [9]) : chaotic.applyAsync(slowDouble, [i]),
      );
      const settled = await Promise.allSettled(calls.map((call) => call.get(WAIT_MS)));
      settled.forEach((outcome, i) => {
        if (i % 100 === 50) {
          assert.equal(outcome.status, 'rejected', `call ${i}`);
          assert.match(String((outcome as PromiseRejectedResult).reason), /exited with code 9/);
        } else {
          assert.deepEqual(outcome, { status: 'fulfilled', value: 2 * i }, `call ${i}`);
        }
      });
      assert.deepEqual(
        await chaotic.map(square, range(10)),
        range(10).map((x) => x * x),
      );
    });

    if (method !== 'thread') {
      test('a worker killed with SIGKILL fails its task with a clear error, and the pool recovers', async () => {
        const two = newPool();
        const parked = two.applyAsync(park);
        const victim = await started.get({ timeout: WAIT_MS });
        process.kill(victim.pid, 'SIGKILL');
        await assert.rejects(parked.get(WAIT_MS), (error: Error) => {
          assert.ok(error instanceof ProcessError);
          assert.match(
            error.message,
            new RegExp(`${victim.name} \\(pid ${victim.pid}\\) was killed by SIGKILL`),
          );
          assert.match(error.message, /a new worker takes its place/);
          return true;
        });
        assert.deepEqual(
          await two.map(square, range(20), { chunksize: 1 }),
          range(20).map((x) => x * x),
        );
        const names = new Set((await two.map(whereAmI, range(8), { chunksize: 1 })).map((w) => w.name));
        assert.ok(!names.has(victim.name));
      });
    }

    test("workers are named as CPython names them: 'Process' made '<StartMethod>PoolWorker'", async () => {
      const expected = {
        spawn: 'SpawnPoolWorker',
        forkserver: 'ForkServerPoolWorker',
        thread: 'ThreadPoolWorker',
      }[method];
      const where = await suite.pool.apply(whereAmI);
      assert.match(where.name, new RegExp(`^${expected}-\\d+$`));
      const pool = newPool({ processes: 1, startMethod: method });
      assert.match((await pool.apply(whereAmI)).name, new RegExp(`^${expected}-\\d+$`));
      if (method === 'thread') return;
      // The start method named, rather than taken from the default, names the workers the same way.
      const other = method === 'spawn' ? 'forkserver' : 'spawn';
      const otherName = other === 'spawn' ? 'SpawnPoolWorker' : 'ForkServerPoolWorker';
      const named = newPool({ processes: 1, startMethod: other });
      assert.match((await named.apply(whereAmI)).name, new RegExp(`^${otherName}-\\d+$`));
    });

    test('maxtasksperchild: a worker exits after that many tasks and a new one takes its place', async () => {
      const recycled = newPool({ processes: 1, maxtasksperchild: 2 });
      const where = await recycled.map(whereAmI, range(6), { chunksize: 1 });
      const names = where.map((w) => w.name);
      assert.equal(new Set(names).size, 3, names.join(', '));
      assert.equal(names[0], names[1]);
      assert.notEqual(names[1], names[2]);
    });

    test('initializer runs once in each worker, with initargs', async () => {
      const calls = new Queue<Where>();
      const initialized = newPool({ initializer: setup, initargs: ['tag-1', calls] });
      assert.deepEqual(await initialized.map(readSetup, range(8), { chunksize: 1 }), Array(8).fill('tag-1'));
      initialized.close();
      await initialized.join();
      const ran = [calls.getNowait(), calls.getNowait()].map((w) => w.name).sort();
      assert.equal(new Set(ran).size, 2);
      assert.equal(calls.qsize(), 0);
    });

    test('an initializer that throws breaks the pool: calls reject with its error', async () => {
      const broken = newPool({ initializer: failSetup });
      const check = (error: Error) => {
        assert.ok(error instanceof ProcessError);
        assert.match(error.message, /initializer failed in \w+PoolWorker-\d+: setup refused/);
        assert.ok((error.cause as Error) instanceof RangeError);
        return true;
      };
      await assert.rejects(broken.map(square, [1, 2]), check);
      await assert.rejects(broken.apply(square, [1]), check);
      broken.close();
      await broken.join();
    });

    test('close: running work finishes, new work is refused, join waits for the workers', async () => {
      const closing = newPool();
      await assert.rejects(closing.join(), /still running/);
      const mapped = closing.map(slowDouble, range(20), { chunksize: 1 });
      const iterated = collect(closing.imap(square, range(10)));
      closing.close();
      closing.close(); // twice is fine
      await assert.rejects(closing.map(square, [1]), ClosedError);
      await assert.rejects(closing.apply(square, [1]), ClosedError);
      await assert.rejects(closing.applyAsync(square, [1]).get(), ClosedError);
      await assert.rejects(collect(closing.imapUnordered(square, [1])), ClosedError);
      await closing.join();
      assert.deepEqual(
        await mapped,
        range(20).map((x) => 2 * x),
      );
      assert.deepEqual(
        await iterated,
        range(10).map((x) => x * x),
      );
      await closing.join(); // again: at once
    });

    test('terminate: unfinished work fails, no worker is left behind', async () => {
      const ending = newPool();
      const where = await ending.map(whereAmI, range(8), { chunksize: 1 });
      const parked = ending.applyAsync(park);
      const pending = ending.map(square, range(100), { chunksize: 1 });
      await started.get({ timeout: WAIT_MS });
      ending.terminate();
      await assert.rejects(parked.get(), { code: 'PROCQ_TERMINATED' });
      await assert.rejects(pending, { code: 'PROCQ_TERMINATED' });
      await assert.rejects(ending.map(square, [1]), ClosedError);
      await ending.join();
      const left = activeChildren().filter(
        (p) => /PoolWorker/.test(p.name) && !suite.pool.toString().includes(p.name),
      );
      assert.deepEqual(
        left.filter((p) => where.some((w) => w.name === p.name)).map((p) => p.name),
        [],
      );
      if (method !== 'thread') {
        for (const w of where)
          assert.equal(running(w.pid), false, `worker ${w.name} (pid ${w.pid}) still runs`);
      }
    });

    test('terminate while workers are still starting, and `await using`', async () => {
      const names: string[] = [];
      {
        await using scoped = newPool();
        names.push(...(await scoped.map(whereAmI, range(4), { chunksize: 1 })).map((w) => w.name));
      }
      const early = newPool();
      early.terminate();
      await early.join();
      assert.ok(names.length === 4);
      assert.equal(
        activeChildren().filter((p) => names.includes(p.name)).length,
        0,
        'await using left workers running',
      );
    });
  });
}

test('Pool options are checked', () => {
  assert.throws(() => new Pool({ processes: 0 }), RangeError);
  assert.throws(() => new Pool({ processes: 1.5 }), RangeError);
  assert.throws(() => new Pool({ processes: '2' as never }), TypeError);
  assert.throws(() => new Pool({ maxtasksperchild: 0 }), RangeError);
  assert.throws(() => new Pool({ startMethod: 'fork' as never }), TypeError);
  assert.throws(() => new Pool({ initargs: 1 as never }), TypeError);
  assert.throws(
    () => new Pool({ initializer: localOnly, processes: 1 }),
    (error: Error) =>
      error instanceof ProcessError && error.message.includes(`${DOES_NOT} '${localOnly.name}'`),
  );
  if (NO_SPAWN) {
    assert.throws(() => new Pool({ processes: 1, startMethod: 'spawn' }), /build the native addon/);
  }
  assert.deepEqual(activeChildren(), []);
});
