// Pool chunking, both start methods: CPython's chunksize tests (Lib/test/_test_multiprocessing.py, TestPool:
// test_map, test_starmap, test_starmap_async, test_map_async_callbacks, test_map_chunksize,
// test_map_handle_iterable_exception, test_imap, test_imap_handle_iterable_exception, test_imap_unordered,
// test_imap_unordered_handle_iterable_exception, test_empty_iterable) ported, then what procq adds: Python's
// default chunksize seen through the public API, the first failing chunk's error, and big chunks of primitives
// (which travel packed) keeping structured clone's meaning.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StartMethod } from '../src/index.js';
import { loadNative, nativeLoadError } from '../src/native/index.js';
import { Pool } from '../src/pool/index.js';
import {
  failEvery4th,
  halfOrText,
  identity,
  mul,
  parkOrReport,
  square,
  toInt,
  unsendable,
} from './fixtures/pool-tasks.js';
import { poolSuite } from './helpers/pool-suite.js';
import { PROCESS_METHOD } from './helpers/util.js';

/** Bound on every wait for a peer: a broken pool fails the test instead of hanging it. */
const WAIT_MS = 20_000;

const NO_SPAWN = loadNative() === null ? `no native addon: ${nativeLoadError()}` : false;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Python's `zip(range(n), range(n - 1, -1, -1))`. */
function pairs(n: number): [number, number][] {
  return range(n).map((i) => [i, n - 1 - i]);
}

class SayWhenError extends Error {
  override name = 'SayWhenError';
}

/** CPython's `exception_throwing_generator(total, when)`: yields 0, 1, … and throws at `when` (-1: at once). */
function* exceptionThrowingGenerator(total: number, when: number): Generator<number> {
  if (when === -1) throw new SayWhenError('Somebody said when');
  for (let i = 0; i < total; i++) {
    if (i === when) throw new SayWhenError('Somebody said when');
    yield i;
  }
}

/** The next `n` values of `iterator` (`next()` one by one, as CPython's tests call `next(it)`). */
async function take<T>(iterator: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const step = await iterator.next();
    assert.equal(step.done, false, `the iterator ended after ${i} of ${n} values`);
    out.push(step.value);
  }
  return out;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const sqr = (x: number) => x * x;

for (const method of ['thread', PROCESS_METHOD] as const satisfies readonly StartMethod[]) {
  describe(`Pool chunks (${method})`, { skip: method !== 'thread' && NO_SPAWN }, () => {
    const suite = poolSuite(method, (options) => new Pool(options));
    const { started, release, newPool } = suite;

    // ---------------------------------------------------------------- ported from CPython

    test('test_map', async () => {
      assert.deepEqual(await suite.pool.map(square, range(10)), range(10).map(sqr));
      assert.deepEqual(await suite.pool.map(square, range(100), { chunksize: 20 }), range(100).map(sqr));
    });

    test('test_starmap and test_starmap_async', async () => {
      const mulAll = (ps: [number, number][]) => ps.map(([a, b]) => a * b);
      assert.deepEqual(await suite.pool.starmap(mul, pairs(10)), mulAll(pairs(10)));
      assert.deepEqual(await suite.pool.starmap(mul, pairs(100), { chunksize: 20 }), mulAll(pairs(100)));
      assert.deepEqual(await suite.pool.starmapAsync(mul, pairs(100)).get(WAIT_MS), mulAll(pairs(100)));
    });

    test('test_map_async and test_map_async_callbacks', async () => {
      assert.deepEqual(await suite.pool.mapAsync(square, range(10)).get(WAIT_MS), range(10).map(sqr));
      const callArgs: unknown[] = [];
      const record = {
        callback: (v: unknown) => callArgs.push(v),
        errorCallback: (e: unknown) => callArgs.push(e),
      };
      await suite.pool.mapAsync(toInt, ['1'], record).wait(WAIT_MS);
      assert.equal(callArgs.length, 1);
      assert.deepEqual(callArgs[0], [1]);
      await suite.pool.mapAsync(toInt, ['a'], record).wait(WAIT_MS);
      assert.equal(callArgs.length, 2);
      assert.ok(callArgs[1] instanceof RangeError, String(callArgs[1]));
    });

    test('test_map_chunksize: an empty list with chunksize 1 does not stall', async () => {
      assert.deepEqual(await suite.pool.mapAsync(square, [], { chunksize: 1 }).get(WAIT_MS), []);
    });

    test('test_map_handle_iterable_exception', async () => {
      // At the very first item, and again (re-entrant), then later on.
      await assert.rejects(
        suite.pool.map(square, exceptionThrowingGenerator(1, -1), { chunksize: 1 }),
        SayWhenError,
      );
      await assert.rejects(
        suite.pool.map(square, exceptionThrowingGenerator(1, -1), { chunksize: 1 }),
        SayWhenError,
      );
      await assert.rejects(
        suite.pool.map(square, exceptionThrowingGenerator(10, 3), { chunksize: 1 }),
        SayWhenError,
      );
      // CPython's SpecialIterable: an iterator whose every next() throws.
      const special = {
        [Symbol.iterator]() {
          return this;
        },
        next(): IteratorResult<number> {
          throw new SayWhenError('Somebody said when');
        },
      };
      await assert.rejects(suite.pool.map(square, special, { chunksize: 1 }), SayWhenError);
      await assert.rejects(suite.pool.map(square, special, { chunksize: 1 }), SayWhenError);
    });

    test('test_imap', async () => {
      assert.deepEqual(await collect(suite.pool.imap(square, range(10))), range(10).map(sqr));
      let it = suite.pool.imap(square, range(10));
      assert.deepEqual(await take(it, 10), range(10).map(sqr));
      assert.deepEqual(await it.next(), { done: true, value: undefined });
      it = suite.pool.imap(square, range(1000), { chunksize: 100 });
      assert.deepEqual(await take(it, 1000), range(1000).map(sqr));
      assert.deepEqual(await it.next(), { done: true, value: undefined });
    });

    test('test_imap_handle_iterable_exception', async () => {
      await assert.rejects(
        suite.pool.imap(square, exceptionThrowingGenerator(1, -1), { chunksize: 1 }).next(),
        SayWhenError,
      );
      await assert.rejects(
        suite.pool.imap(square, exceptionThrowingGenerator(1, -1), { chunksize: 1 }).next(),
        SayWhenError,
      );
      // The error comes at the place of the chunk being read when the iterable threw: its items are lost.
      for (const [chunksize, before] of [
        [1, 3],
        [2, 6],
        [4, 4],
      ] as const) {
        const total = chunksize === 1 ? 10 : 20;
        const when = chunksize === 1 ? 3 : 7;
        const it = suite.pool.imap(square, exceptionThrowingGenerator(total, when), { chunksize });
        assert.deepEqual(await take(it, before), range(before).map(sqr), `chunksize ${chunksize}`);
        await assert.rejects(it.next(), SayWhenError);
      }
    });

    test('test_imap_unordered', async () => {
      const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
      assert.deepEqual(
        sorted(await collect(suite.pool.imapUnordered(square, range(10)))),
        range(10).map(sqr),
      );
      assert.deepEqual(
        sorted(await collect(suite.pool.imapUnordered(square, range(1000), { chunksize: 100 }))),
        range(1000).map(sqr),
      );
    });

    test('test_imap_unordered_handle_iterable_exception', async () => {
      await assert.rejects(
        suite.pool.imapUnordered(square, exceptionThrowingGenerator(1, -1), { chunksize: 1 }).next(),
        SayWhenError,
      );
      for (const [total, when, chunksize] of [
        [10, 3, 1],
        [20, 7, 2],
      ] as const) {
        const expected = range(total).map(sqr);
        const it = suite.pool.imapUnordered(square, exceptionThrowingGenerator(total, when), { chunksize });
        await assert.rejects(async () => {
          for (let i = 0; i < total; i++) {
            const step = await it.next();
            assert.equal(step.done, false);
            const at = expected.indexOf(step.value);
            assert.ok(at >= 0, `unexpected value ${step.value}`);
            expected.splice(at, 1);
          }
        }, SayWhenError);
      }
    });

    test('test_empty_iterable', async () => {
      const one = newPool({ processes: 1 });
      assert.deepEqual(await one.map(square, []), []);
      assert.deepEqual(await collect(one.imap(square, [])), []);
      assert.deepEqual(await collect(one.imapUnordered(square, [])), []);
      assert.deepEqual(await one.mapAsync(square, []).get(WAIT_MS), []);
    });

    // ---------------------------------------------------------------- procq

    test("map's default chunksize is Python's: ceil(items / (4 × processes))", async () => {
      // 17 items over 2 workers: chunks of 3. Item 0 parks its worker, so its chunk-mates 1 and 2 wait with it
      // while the other worker runs every other chunk (taking back those queued behind the parked one).
      const mapped = suite.pool.map(parkOrReport, range(17));
      // Item 0's report (where it parked) and the other worker's items come in either order.
      const before = new Set<unknown>();
      let parked = false;
      while (!parked || before.size < 14) {
        const item = await started.get({ timeout: WAIT_MS });
        if (typeof item === 'number') before.add(item);
        else parked = true; // item 0 is parked
      }
      assert.deepEqual(
        [...before].sort((a, b) => (a as number) - (b as number)),
        range(17).slice(3),
      );
      await release.put('go');
      assert.deepEqual(await mapped, ['released', ...range(17).slice(1)]);
      assert.deepEqual(started.getManySync(10, { block: false }), [1, 2]);
    });

    test("an error fails the call with the first failing chunk's error: its first failing item's", async () => {
      // One worker runs the chunks in order, so the first failing chunk is the first to come back.
      const one = newPool({ processes: 1 });
      for (const [n, chunksize] of [
        [8, 2],
        [8, 1],
        [4000, 1000], // big chunks travel packed
      ] as const) {
        const errors: unknown[] = [];
        const result = one.mapAsync(failEvery4th, range(n), {
          chunksize,
          errorCallback: (e) => errors.push(e),
        });
        await assert.rejects(result.get(WAIT_MS), (e: Error) => e instanceof Error && e.message === 'item 3');
        assert.equal(errors.length, 1);
        assert.equal(result.successful(), false);
        await assert.rejects(
          collect(one.imap(failEvery4th, range(n), { chunksize })),
          (e: Error) => e.message === 'item 3',
        );
      }
      // The pool goes on.
      assert.deepEqual(await one.map(square, range(3)), [0, 1, 4]);
    });

    test('chunks of numbers (raw int32 or float64 frames) come back exact and in order', async () => {
      const edges = [0, -0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY];
      const more = [Number.NEGATIVE_INFINITY, Number.MIN_VALUE, Number.MAX_VALUE, 2 ** 53 + 2, 0.1, -7.25];
      const doubles = range(3000).map((i) => [...edges, ...more][i % 15]!);
      const ints = range(3000).map((i) => (i % 2 === 0 ? i : -i) * 1000);
      for (const items of [doubles, ints]) {
        for (const chunksize of [128, 1000, 3000]) {
          const back = await suite.pool.map(identity, items, { chunksize });
          assert.equal(back.length, items.length);
          for (let i = 0; i < items.length; i++)
            assert.ok(Object.is(back[i], items[i]), `item ${i}: ${back[i]}`);
          assert.ok(Array.isArray(back));
        }
      }
      // -0 in a chunk of ints travels as a double: still -0 (structured clone keeps it).
      const withZero = await suite.pool.map(identity, [...range(500), -0], { chunksize: 501 });
      assert.ok(Object.is(withZero[500], -0));
      // Results that stop being numbers in the middle of a chunk; the items before stay exact.
      const halves = await suite.pool.map(halfOrText, range(3000), { chunksize: 1000 });
      assert.deepEqual(halves, range(3000).map(halfOrText));
      // Numbers both ways through starmap, imap and imapUnordered.
      assert.deepEqual(
        await suite.pool.starmap(mul, pairs(1000), { chunksize: 500 }),
        pairs(1000).map(([a, b]) => a * b),
      );
      assert.deepEqual(
        await collect(suite.pool.imap(square, range(1000), { chunksize: 200 })),
        range(1000).map(sqr),
      );
      const unordered = await collect(suite.pool.imapUnordered(square, range(1000), { chunksize: 200 }));
      assert.deepEqual(
        unordered.sort((a, b) => a - b),
        range(1000).map(sqr),
      );
      // A map of one big chunk gives an array too.
      const one = await suite.pool.map(square, range(500), { chunksize: 500 });
      assert.ok(Array.isArray(one));
      assert.deepEqual(one, range(500).map(sqr));
    });

    test('big chunks keep structured clone semantics both ways (packed primitives, and objects that are not)', async () => {
      const odd = [
        -0,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        2 ** 53 + 2,
        0.1,
        -7,
        12345678901234567890n,
        '',
        'ascii',
        'ünïcödé',
        '\ud800 lone',
        true,
        false,
        null,
        undefined,
      ];
      const items = range(3000).map((i) => odd[i % odd.length]);
      const back = await suite.pool.map(identity, items, { chunksize: 1500 });
      assert.equal(back.length, items.length);
      for (let i = 0; i < items.length; i++) assert.ok(Object.is(back[i], items[i]), `item ${i}`);
      // Holes read as undefined, as in Python's list and in a one-item-per-task map.
      const holey = new Array<number>(1000);
      holey[10] = 1;
      const unholed = await suite.pool.map(identity, holey, { chunksize: 1000 });
      assert.equal(unholed.length, 1000);
      assert.equal(unholed[10], 1);
      assert.ok(0 in unholed && unholed[0] === undefined);
      // Objects and arrays among them: the queue codec, same results.
      const mixed = range(2000).map((i) =>
        i % 3 === 0 ? { i, tags: ['a', String(i)] } : i % 3 === 1 ? [i] : i,
      );
      assert.deepEqual(await suite.pool.map(identity, mixed, { chunksize: 1000 }), mixed);
      assert.deepEqual(await suite.pool.map(square, range(20_000)), range(20_000).map(sqr));
      // What does not clone still fails the call with a TypeError, packed or not.
      await assert.rejects(
        suite.pool.map(identity, [...range(999), Symbol('no')], { chunksize: 1000 }),
        TypeError,
      );
      await assert.rejects(
        suite.pool.map(unsendable, range(1000), { chunksize: 1000 }),
        /cannot be sent back/,
      );
    });
  });
}
