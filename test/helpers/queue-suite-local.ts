// The Queue contract in one thread: every rule of the Queue contract (docs/ARCHITECTURE.md) that one thread can observe.
// Installed once per segment kind (shared memory, and PROCQ_SEGMENT=sab) by queue-suite.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortError,
  ClosedError,
  Empty,
  Full,
  JoinableQueue,
  ProcqError,
  Queue,
  type QueueLike,
  ShutDown,
  SimpleQueue,
} from '../../src/index.js';
import { bigItems, bytesOf, sampleItems } from './items.js';
import type { QueueFactory } from './queue-factory.js';
import { errorOf, ms, rejectsAsync, tick } from './util.js';

export type { SegmentKind } from './queue-factory.js';

/** Timeouts are checked against a wall clock on a shared 2-core machine: early never, late within this slack. */
const LATE_MS = 1500;

function assertWaited(elapsed: number, timeout: number): void {
  assert.ok(
    elapsed >= timeout - 2,
    `returned after ${elapsed.toFixed(1)} ms, before its ${timeout} ms timeout`,
  );
  assert.ok(
    elapsed < timeout + LATE_MS,
    `returned after ${elapsed.toFixed(1)} ms for a ${timeout} ms timeout`,
  );
}

function assertAtOnce(elapsed: number): void {
  assert.ok(elapsed < 500, `took ${elapsed.toFixed(1)} ms where it should not wait`);
}

/** Drains with getNowait: what is left, in order. */
function drain<T>(q: QueueLike<T>): T[] {
  const out: T[] = [];
  while (q.qsize() > 0) out.push(q.getNowait());
  return out;
}

function assertAbortError(err: any, signal: AbortSignal): void {
  assert.ok(err instanceof Error, `not an Error: ${err}`);
  assert.equal(err.name, 'AbortError');
  assert.equal((err as any).code, 'ABORT_ERR');
  assert.equal(err.cause, signal.reason, 'cause is signal.reason');
}

// A deterministic PRNG (mulberry32) for the model test.
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function installLocalSuite(mk: QueueFactory): void {
  const segment = mk.label;
  describe(`Queue contract in one thread (${mk.segment ? 'segment' : 'transport'}: ${segment})`, () => {
    describe('errors', () => {
      test('Empty, Full, ShutDown and the closed error are exported classes with stable codes', async () => {
        const cases: Array<[new () => ProcqError, string, string]> = [
          [Empty, 'Empty', 'PROCQ_EMPTY'],
          [Full, 'Full', 'PROCQ_FULL'],
          [ShutDown, 'ShutDown', 'PROCQ_SHUTDOWN'],
          [ClosedError, 'ClosedError', 'PROCQ_CLOSED'],
        ];
        for (const [Ctor, name, code] of cases) {
          const e = new Ctor();
          assert.ok(e instanceof Error && e instanceof ProcqError && e instanceof Ctor);
          assert.equal(e.name, name);
          assert.equal(e.code, code);
          assert.equal(typeof e.message, 'string');
          assert.ok(e.message.length > 0);
        }
        const q = await mk.queue(1);
        assert.throws(
          () => q.getNowait(),
          (e: any) => e instanceof Empty && e.code === 'PROCQ_EMPTY',
        );
        q.putNowait(1);
        assert.throws(
          () => q.putNowait(2),
          (e: any) => e instanceof Full && e.code === 'PROCQ_FULL',
        );
        q.shutdown();
        assert.throws(
          () => q.putNowait(2),
          (e: any) => e instanceof ShutDown && e.code === 'PROCQ_SHUTDOWN',
        );
        const abort = new AbortError();
        assert.equal(abort.name, 'AbortError');
        assert.equal(abort.code, 'ABORT_ERR');
      });
    });

    describe('argument errors', () => {
      if (mk.segment !== undefined) {
        test('constructors throw TypeError / RangeError at once', () => {
          const cases: Array<[string, () => unknown, Function]> = [
            ['new Queue(1.5)', () => new Queue(1.5), RangeError],
            ["new Queue('3')", () => new Queue('3' as any), TypeError],
            ['new Queue(NaN)', () => new Queue(Number.NaN), RangeError],
            ['new Queue(Infinity)', () => new Queue(Number.POSITIVE_INFINITY), RangeError],
            ['new Queue(-Infinity)', () => new Queue(Number.NEGATIVE_INFINITY), RangeError],
            ['new Queue(2 ** 31)', () => new Queue(2 ** 31), RangeError],
            ['new Queue(null)', () => new Queue(null as any), TypeError],
            ['new Queue(3n)', () => new Queue(3n as any), TypeError],
            ['new Queue([])', () => new Queue([] as any), TypeError],
            ["new Queue({ maxsize: '3' })", () => new Queue({ maxsize: '3' as any }), TypeError],
            ['new Queue({ maxSize: 3 })', () => new Queue({ maxSize: 3 } as any), TypeError],
            ['new Queue({ maxsize: 1 }, {})', () => new Queue({ maxsize: 1 } as any, {}), TypeError],
            ['new Queue({ capacityBytes: 0 })', () => new Queue({ capacityBytes: 0 }), RangeError],
            ["new Queue(0, 'x')", () => new Queue(0, 'x' as any), TypeError],
            ['new Queue(0, null)', () => new Queue(0, null as any), TypeError],
            ["capacityBytes: '64'", () => new Queue(0, { capacityBytes: '64' as any }), TypeError],
            ['capacityBytes: 0', () => new Queue(0, { capacityBytes: 0 }), RangeError],
            ['capacityBytes: -1', () => new Queue(0, { capacityBytes: -1 }), RangeError],
            ['capacityBytes: 1.5', () => new Queue(0, { capacityBytes: 1.5 }), RangeError],
            ['capacityBytes: NaN', () => new Queue(0, { capacityBytes: Number.NaN }), RangeError],
            ["codec: 'json'", () => new Queue(0, { codec: 'json' as any }), TypeError],
            ['codec: null', () => new Queue(0, { codec: null as any }), TypeError],
            [
              'codec without decode',
              () => new Queue(0, { codec: { encode: () => new Uint8Array() } as any }),
              TypeError,
            ],
            ['new JoinableQueue(1.5)', () => new JoinableQueue(1.5), RangeError],
            ["new JoinableQueue('3')", () => new JoinableQueue('3' as any), TypeError],
            ['new SimpleQueue(3)', () => new SimpleQueue(3 as any), TypeError],
            [
              'new SimpleQueue({ capacityBytes: 0 })',
              () => new SimpleQueue({ capacityBytes: 0 }),
              RangeError,
            ],
          ];
          const wrong: string[] = [];
          for (const [label, make, Ctor] of cases) {
            try {
              make();
              wrong.push(`${label}: no error`);
            } catch (err) {
              if (!(err instanceof Ctor))
                wrong.push(`${label}: ${(err as Error)?.name} instead of ${Ctor.name}`);
            }
          }
          assert.deepEqual(wrong, []);
          // Valid forms, for contrast.
          for (const make of [
            () => new Queue(),
            () => new Queue(undefined),
            () => new Queue(0, {}),
            () => new Queue(-1),
            () => new Queue(2 ** 31 - 1),
            () => new Queue(0, { capacityBytes: 1 }),
            () => new SimpleQueue(),
            () => new JoinableQueue(),
          ]) {
            assert.doesNotThrow(make);
          }
        });

        test('new Queue({ maxsize, label, ... }): one options object, as new Queue(maxsize, options)', async () => {
          const q = new Queue<number>({ maxsize: 2, label: 'jobs', capacityBytes: 256 });
          const j = new JoinableQueue<number>({ maxsize: 1 });
          try {
            assert.equal(q.maxsize, 2);
            q.putNowait(1);
            q.putNowait(2);
            assert.throws(() => q.putNowait(3), { name: 'Full', message: /jobs/ });
            assert.equal(q.stats().label, 'jobs');
            assert.equal(await q.get(), 1);
            j.putNowait(1);
            assert.ok(j.full());
            assert.equal(new Queue({}).maxsize, 0, '{} is the unbounded default, as new Queue()');
          } finally {
            q.close();
            j.close();
          }
        });
      }

      const badOptions: Array<[string, unknown, Function]> = [
        ['timeout: NaN', { timeout: Number.NaN }, RangeError],
        ["timeout: '5'", { timeout: '5' }, TypeError],
        ['timeout: 5n', { timeout: 5n }, TypeError],
        ["block: 'no'", { block: 'no' }, TypeError],
        ['options: 5', 5, TypeError],
        ["options: 'fast'", 'fast', TypeError],
      ];

      test('Sync forms throw them at once, and the queue is unchanged', async () => {
        const q = await mk.queue<string>(2);
        q.putNowait('kept');
        const jq = await mk.joinable<string>();
        const forms: Array<[string, (o: any) => unknown]> = [
          ['putSync', (o) => q.putSync('x', o)],
          ['getSync', (o) => q.getSync(o)],
          ['putManySync', (o) => q.putManySync(['x'], o)],
          ['getManySync', (o) => q.getManySync(1, o)],
          ['joinSync', (o) => jq.joinSync(o)],
        ];
        for (const [name, call] of forms) {
          for (const [label, opts, Ctor] of badOptions) {
            assert.throws(() => call(opts), Ctor as any, `${name}(${label})`);
          }
        }
        for (const [max, Ctor] of [
          [0, RangeError],
          [-1, RangeError],
          [1.5, RangeError],
          [Number.NaN, RangeError],
          ['2', TypeError],
          [undefined, TypeError],
        ] as const) {
          assert.throws(() => q.getManySync(max as any), Ctor, `getManySync(${String(max)})`);
        }
        assert.throws(() => q.putManySync(5 as any), TypeError, 'putManySync(5)');
        assert.throws(() => q.putManySync(null as any), TypeError, 'putManySync(null)');
        assert.equal(q.qsize(), 1);
        assert.deepEqual(drain(q), ['kept']);
      });

      test('async forms reject with them, never throw synchronously, and the queue is unchanged', async () => {
        const q = await mk.queue<string>(2);
        q.putNowait('kept');
        const jq = await mk.joinable<string>();
        const forms: Array<[string, (o: any) => Promise<unknown>]> = [
          ['put', (o) => q.put('x', o)],
          ['get', (o) => q.get(o)],
          ['putMany', (o) => q.putMany(['x'], o)],
          ['getMany', (o) => q.getMany(1, o)],
          ['join', (o) => jq.join(o)],
        ];
        const asyncBad: Array<[string, unknown, Function]> = [
          ...badOptions,
          ["signal: 'x'", { signal: 'x' }, TypeError],
          ['signal: a look-alike', { signal: { aborted: false, addEventListener() {} } }, TypeError],
        ];
        for (const [name, call] of forms) {
          for (const [label, opts, Ctor] of asyncBad)
            await rejectsAsync(() => call(opts), Ctor, `${name}(${label})`);
        }
        for (const [max, Ctor] of [
          [0, RangeError],
          [1.5, RangeError],
          ['2', TypeError],
        ] as const) {
          await rejectsAsync(() => q.getMany(max as any), Ctor, `getMany(${String(max)})`);
        }
        await rejectsAsync(() => q.putMany(5 as any), TypeError, 'putMany(5)');
        assert.equal(q.qsize(), 1);
        assert.deepEqual(drain(q), ['kept']);
      });
    });

    describe('maxsize', () => {
      for (const maxsize of [undefined, 0, -1, -100]) {
        test(`Queue(${maxsize}) has no bound: puts never block and never throw Full`, async () => {
          const q = await mk.queue<number>(maxsize, { capacityBytes: 64 });
          assert.equal(q.maxsize, maxsize ?? 0);
          const n = 3000;
          const start = performance.now();
          for (let i = 0; i < n; i += 3) {
            q.putNowait(i);
            q.putSync(i + 1, { block: false });
            await q.put(i + 2, { timeout: 0 });
            assert.equal(q.full(), false);
          }
          assert.equal(await q.putMany([n, n + 1], { block: false }), 2);
          assert.ok(ms(start) < 10_000, 'puts on an unbounded queue do not wait');
          assert.equal(q.qsize(), n + 2);
          assert.equal(q.empty(), false);
          assert.equal(q.full(), false);
          const got = drain(q);
          assert.equal(got.length, n + 2);
          assert.ok(got.every((v, i) => v === i));
        });
      }

      // Over a SharedArrayBuffer (no native addon) a ring reserves at most 64 MiB, since private memory that large
      // makes fork() fail; over shm it may grow to 1 GiB. Below that, no bound in bytes either.
      const sab = process.env.PROCQ_SEGMENT === 'sab';
      const [backlogMiB, bigMiB] = sab ? [20, 40] : [70, 80];
      if (mk.segment !== undefined) {
        test(`no bound means none in bytes either: a ${backlogMiB} MiB backlog, then one ${bigMiB} MiB item, without Full`, async () => {
          const q = await mk.queue<Uint8Array>();
          const mib = new Uint8Array(1 << 20);
          for (let i = 0; i < backlogMiB; i++) {
            mib[0] = i;
            q.putNowait(mib); // a backlog no consumer drains: must never be Full
          }
          for (let i = 0; i < backlogMiB; i++) assert.equal(q.getNowait()[0], i);
          const huge = new Uint8Array(bigMiB << 20);
          huge[huge.length - 1] = 7;
          q.putNowait(huge);
          const got = q.getNowait();
          assert.equal(got.byteLength, huge.byteLength);
          assert.equal(got[got.length - 1], 7);
        });
      }

      if (sab) {
        test('without the native addon, an item larger than the 64 MiB ring is a RangeError, the queue unchanged', async () => {
          const q = await mk.queue<unknown>();
          q.putNowait('before');
          assert.throws(() => q.putNowait(new Uint8Array(70 << 20)), RangeError);
          assert.equal(q.qsize(), 1);
          assert.equal(q.getNowait(), 'before');
        });
      }

      if (mk.segment !== undefined) {
        test('a SimpleQueue has no bound either', async () => {
          const q = new SimpleQueue<number>({ capacityBytes: 64 });
          assert.equal(q.maxsize, 0);
          for (let i = 0; i < 1000; i++) q.putNowait(i);
          assert.equal(q.full(), false);
          assert.equal(q.qsize(), 1000);
        });
      }

      test('maxsize is read-only and is the bound given', async () => {
        const q = await mk.queue(3);
        assert.equal(q.maxsize, 3);
        assert.throws(() => {
          (q as any).maxsize = 5;
        }, TypeError);
        assert.equal(q.maxsize, 3);
        assert.equal((await mk.joinable(7)).maxsize, 7);
      });

      test('bounded: Full from putNowait, block:false, timeout 0; qsize/empty/full exact', async () => {
        const q = await mk.queue<string>(3);
        assert.deepEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
        q.putNowait('a');
        assert.deepEqual([q.qsize(), q.empty(), q.full()], [1, false, false]);
        q.putSync('b');
        await q.put('c');
        assert.deepEqual([q.qsize(), q.empty(), q.full()], [3, false, true]);
        for (const [label, call] of [
          ['putNowait', () => q.putNowait('d')],
          ['putSync block:false', () => q.putSync('d', { block: false })],
          ['putSync timeout:0', () => q.putSync('d', { timeout: 0 })],
          ['put block:false', () => q.put('d', { block: false })],
          ['put timeout:0', () => q.put('d', { timeout: 0 })],
        ] as const) {
          const start = performance.now();
          const err = await errorOf(call);
          assertAtOnce(ms(start));
          assert.ok(err instanceof Full, `${label}: ${err}`);
        }
        assert.equal(q.qsize(), 3);
        assert.deepEqual(drain(q), ['a', 'b', 'c']);
        assert.deepEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
      });

      test('maxsize alone decides full() and Full: a 64-byte ring still takes maxsize large items', async () => {
        const q = await mk.queue<string>(3, { capacityBytes: 64 });
        const big = (i: number) => `${i}${'w'.repeat(4096)}`;
        for (let i = 0; i < 3; i++) {
          assert.equal(q.full(), false);
          q.putNowait(big(i));
        }
        assert.equal(q.full(), true);
        assert.throws(() => q.putNowait('small'), Full);
        assert.deepEqual(drain(q), [big(0), big(1), big(2)]);
      });

      test('block:false ignores timeout (Python), for put and get, all forms', async () => {
        const q = await mk.queue<string>(1);
        for (const call of [
          () => q.getSync({ block: false, timeout: 10_000 }),
          () => q.get({ block: false, timeout: 10_000 }),
          () => q.getManySync(2, { block: false, timeout: 10_000 }),
          () => q.getMany(2, { block: false, timeout: 10_000 }),
        ]) {
          const start = performance.now();
          assert.ok((await errorOf(call)) instanceof Empty);
          assertAtOnce(ms(start));
        }
        q.putNowait('x');
        for (const call of [
          () => q.putSync('y', { block: false, timeout: 10_000 }),
          () => q.put('y', { block: false, timeout: 10_000 }),
          () => q.putManySync(['y'], { block: false, timeout: 10_000 }),
          () => q.putMany(['y'], { block: false, timeout: 10_000 }),
        ]) {
          const start = performance.now();
          assert.ok((await errorOf(call)) instanceof Full);
          assertAtOnce(ms(start));
        }
        assert.deepEqual(drain(q), ['x']);
      });

      test('Full after the timeout, Empty after the timeout (sync and async), not before', async () => {
        const q = await mk.queue<string>(1);
        let start = performance.now();
        assert.ok((await errorOf(() => q.getSync({ timeout: 120 }))) instanceof Empty);
        assertWaited(ms(start), 120);
        start = performance.now();
        assert.ok((await errorOf(() => q.get({ timeout: 120 }))) instanceof Empty);
        assertWaited(ms(start), 120);
        start = performance.now();
        assert.ok((await errorOf(() => q.getMany(3, { timeout: 60 }))) instanceof Empty);
        assertWaited(ms(start), 60);
        q.putNowait('x');
        start = performance.now();
        assert.ok((await errorOf(() => q.putSync('y', { timeout: 120 }))) instanceof Full);
        assertWaited(ms(start), 120);
        start = performance.now();
        assert.ok((await errorOf(() => q.put('y', { timeout: 120 }))) instanceof Full);
        assertWaited(ms(start), 120);
        assert.deepEqual(drain(q), ['x']);
      });

      test('a model check: qsize/empty/full/items agree with a model after every operation', async () => {
        const random = rng(12345);
        const max = 4;
        const q = await mk.queue<number>(max, { capacityBytes: 64 });
        const model: number[] = [];
        let next = 0;
        // Over a network every step is a round trip: fewer steps, the same walk.
        const steps = mk.caps.syncViaHelperThread ? 600 : 3000;
        for (let step = 0; step < steps; step++) {
          const op = Math.floor(random() * 4);
          if (op === 0) {
            if (model.length >= max) assert.throws(() => q.putNowait(next), Full);
            else {
              q.putNowait(next);
              model.push(next);
            }
            next++;
          } else if (op === 1) {
            if (model.length === 0) assert.throws(() => q.getNowait(), Empty);
            else assert.equal(q.getNowait(), model.shift());
          } else if (op === 2) {
            const k = 1 + Math.floor(random() * 5);
            const items = Array.from({ length: k }, (_, i) => next + i);
            next += k;
            const room = max - model.length;
            if (k > room) {
              const err = (() => {
                try {
                  q.putManySync(items, { block: false });
                } catch (e) {
                  return e as Full & { putCount?: number };
                }
              })();
              assert.ok(err instanceof Full, 'putManySync beyond the room: Full');
              assert.equal(err.putCount, room);
              model.push(...items.slice(0, room));
            } else {
              assert.equal(q.putManySync(items, { block: false }), k);
              model.push(...items);
            }
          } else {
            const m = 1 + Math.floor(random() * 5);
            if (model.length === 0) assert.throws(() => q.getManySync(m, { block: false }), Empty);
            else assert.deepEqual(q.getManySync(m, { block: false }), model.splice(0, m));
          }
          assert.equal(q.qsize(), model.length, `qsize at step ${step}`);
          assert.equal(q.empty(), model.length === 0);
          assert.equal(q.full(), model.length === max);
        }
      });
    });

    describe('forms', () => {
      test('put/putSync/putNowait/putMany and get/getSync/getNowait/getMany share one FIFO', async () => {
        const q = await mk.queue<number>();
        await q.put(0);
        q.putSync(1);
        q.putNowait(2);
        assert.equal(await q.putMany([3, 4]), 2);
        assert.equal(q.putManySync(new Set([5, 6])), 2);
        assert.equal(
          await q.putMany(
            (function* () {
              yield 7;
              yield 8;
            })(),
          ),
          2,
        );
        assert.equal(await q.putMany([]), 0);
        assert.equal(q.qsize(), 9);
        assert.equal(await q.get(), 0);
        assert.equal(q.getSync(), 1);
        assert.equal(q.getNowait(), 2);
        assert.deepEqual(await q.getMany(2), [3, 4]);
        assert.deepEqual(q.getManySync(100), [5, 6, 7, 8]);
        assert.equal(q.empty(), true);
      });

      test('getMany takes at most max, oldest first, and does not wait for more than one', async () => {
        const q = await mk.queue<number>();
        q.putManySync([1, 2, 3, 4, 5]);
        assert.deepEqual(await q.getMany(3), [1, 2, 3]);
        assert.deepEqual(await q.getMany(3, { timeout: 5000 }), [4, 5]);
        q.putNowait(6);
        const start = performance.now();
        assert.deepEqual(await q.getMany(10, { timeout: 5000 }), [6]);
        assertAtOnce(ms(start));
        const later = q.getMany(10, { timeout: 5000 });
        q.putNowait(7);
        assert.deepEqual(await later, [7]);
      });

      test('putMany on a bounded queue: Full with putCount on timeout, the first putCount items are in', async () => {
        const q = await mk.queue<string>(3);
        q.putNowait('old');
        for (const [label, call] of [
          ['timeout', () => q.putMany(['a', 'b', 'c', 'd'], { timeout: 50 })],
          ['block:false', () => q.putMany(['e'], { block: false })],
          ['putManySync timeout', () => q.putManySync(['e', 'f'], { timeout: 50 })],
        ] as const) {
          const err = await errorOf(call);
          assert.ok(err instanceof Full, `${label}: ${err}`);
          assert.equal((err as any).putCount, label === 'timeout' ? 2 : 0, label);
        }
        assert.deepEqual(drain(q), ['old', 'a', 'b']);
      });

      test('putMany waits for room as items are taken, and keeps their order', async () => {
        const q = await mk.queue<number>(2);
        const items = Array.from({ length: 50 }, (_, i) => i);
        const putting = q.putMany(items, { timeout: 10_000 });
        const got: number[] = [];
        while (got.length < items.length) got.push(...(await q.getMany(3, { timeout: 10_000 })));
        assert.equal(await putting, 50);
        assert.deepEqual(got, items);
      });

      test('a waiting async get is woken by a put from this thread; a waiting put by a get', async () => {
        const q = await mk.queue<string>(1);
        const getting = q.get({ timeout: 10_000 });
        await tick();
        q.putNowait('woken');
        assert.equal(await getting, 'woken');
        q.putNowait('first');
        const putting = q.put('second', { timeout: 10_000 });
        await tick();
        assert.equal(q.getNowait(), 'first');
        await putting;
        assert.deepEqual(drain(q), ['second']);
      });
    });

    describe('items', () => {
      for (const [form, roundTrip] of [
        [
          'put/get',
          async (q: QueueLike<unknown>, v: unknown) => {
            await q.put(v);
            return q.get({ timeout: 1000 });
          },
        ],
        [
          'putSync/getSync',
          (q: QueueLike<unknown>, v: unknown) => {
            q.putSync(v);
            return q.getSync({ timeout: 1000 });
          },
        ],
        [
          'putMany/getMany',
          async (q: QueueLike<unknown>, v: unknown) => {
            await q.putMany([v, v]);
            const [a, b] = await q.getMany(2, { timeout: 1000 });
            assert.deepEqual(a, b);
            return a;
          },
        ],
      ] as const) {
        test(`every kind of item arrives equal, its type preserved (${form})`, async () => {
          const q = await mk.queue<unknown>(0, { capacityBytes: 64 });
          const wrong: string[] = [];
          for (const [label, value, ...expected] of sampleItems()) {
            const got = await roundTrip(q, value);
            try {
              assert.deepStrictEqual(got, expected.length ? expected[0] : value);
            } catch {
              wrong.push(label);
            }
          }
          assert.deepEqual(wrong, [], 'items that arrived different');
          assert.equal(q.qsize(), 0);
        });
      }

      test('structured items are copies; errors keep class and message; class instances arrive as plain objects', async () => {
        const q = await mk.queue<any>();
        const obj = { a: [1] };
        q.putNowait(obj);
        obj.a.push(2); // after the put: must not show
        assert.deepEqual(q.getNowait(), { a: [1] });
        q.putNowait(new TypeError('bad type'));
        const err = q.getNowait();
        assert.ok(err instanceof TypeError);
        assert.equal(err.message, 'bad type');
        class Point {
          constructor(
            public x: number,
            public y: number,
          ) {}
        }
        q.putNowait(Object.assign(Object.create(null), { a: 1 }));
        const bare = q.getNowait();
        assert.equal(Object.getPrototypeOf(bare), Object.prototype, 'structured clone gives plain objects');
        assert.deepEqual({ ...bare }, { a: 1 });
        q.putNowait(new Point(1, 2));
        const p = q.getNowait();
        assert.equal(Object.getPrototypeOf(p), Object.prototype);
        assert.deepEqual({ ...p }, { x: 1, y: 2 });
        const u8 = new Uint8Array([1, 2, 3]);
        q.putNowait(u8);
        u8[0] = 99;
        assert.deepEqual(q.getNowait(), new Uint8Array([1, 2, 3]));
      });

      test('a string with a lone surrogate arrives unchanged (as structured clone keeps it)', async () => {
        const q = await mk.queue<string>();
        const samples = ['\uD83D', 'a\uDC00b', `x${'\uD800'.repeat(3)}`, `${'y'.repeat(20_000)}\uDFFF`];
        for (const s of samples) {
          q.putNowait(s);
          const got = q.getNowait();
          assert.equal(got, s, `${JSON.stringify(s.slice(-8))} arrived as ${JSON.stringify(got.slice(-8))}`);
        }
        // What structured clone itself does, for reference: it keeps them.
        for (const s of samples) assert.equal(structuredClone(s), s);
      });

      test('8 MiB items through a 64-byte ring arrive whole and in order', async () => {
        const size = 8 * 1024 * 1024;
        const q = await mk.queue<unknown>(0, { capacityBytes: 64 });
        const items = bigItems(size);
        for (const [, v] of items) await q.put(v);
        assert.equal(q.qsize(), items.length);
        for (const [label, v] of items) {
          const got = await q.get({ timeout: 5000 });
          assert.ok(Object.getPrototypeOf(got) === Object.getPrototypeOf(v), `${label}: type`);
          assert.ok(typeof v === 'string' ? got === v : bytesOf(got).equals(bytesOf(v)), `${label}: content`);
        }
        // Interleaved with small items, one producer: still whole and in order.
        const big = new Uint8Array(size).fill(7);
        q.putNowait('before');
        q.putNowait(big);
        q.putNowait('after');
        assert.equal(q.getNowait(), 'before');
        assert.equal((q.getNowait() as Uint8Array).byteLength, size);
        assert.equal(q.getNowait(), 'after');
      });

      if (mk.segment !== undefined) {
        test('a tiny ring (one frame) wraps around on every put and loses nothing', async () => {
          const q = await mk.queue<string>(0, { capacityBytes: 1 });
          for (let i = 0; i < 5000; i++) {
            const s = `${i}:${'z'.repeat(i % 48)}`; // frames of 8 + up to 56 bytes: at most one fits
            q.putNowait(s);
            assert.equal(q.getNowait(), s);
          }
          // Two frames at once: the ring must grow or wait, never overwrite.
          for (let i = 0; i < 500; i++) {
            const a = `a${i}:${'z'.repeat(i % 50)}`;
            const b = `b${i}:${'z'.repeat((i * 7) % 50)}`;
            q.putNowait(a);
            q.putNowait(b);
            assert.deepEqual(q.getManySync(2), [a, b]);
          }
        });
      }

      for (const [label, bad] of [
        ['a function', () => 1],
        ['a symbol', Symbol('s')],
        ['an object holding a function', { ok: 1, fn() {} }],
        ['a WeakMap', new WeakMap()],
        ['a Promise', Promise.resolve(1)],
        ['a Proxy of a plain object', new Proxy({ a: 1 }, {})],
        ['a Proxy of an array', new Proxy([1, 2], {})],
        ['a plain object holding a Proxy', { inner: new Proxy({ b: 2 }, {}) }],
      ] as const) {
        test(`an uncloneable item (${label}): TypeError with a cause, queue unchanged and usable`, async () => {
          const q = await mk.queue<unknown>(3);
          q.putNowait('before');
          const check = (err: any, form: string) => {
            assert.ok(err instanceof TypeError, `${form}: ${err?.name}`);
            assert.ok(err.cause !== undefined, `${form}: no cause`);
            assert.equal(q.qsize(), 1, `${form}: the queue changed`);
          };
          check(await errorOf(() => q.putNowait(bad)), 'putNowait');
          check(await errorOf(() => q.putSync(bad)), 'putSync');
          check(await rejectsAsync(() => q.put(bad), TypeError), 'put');
          check(await rejectsAsync(() => q.putMany(['x', bad, 'y']), TypeError), 'putMany');
          check(await errorOf(() => q.putManySync(['x', bad])), 'putManySync');
          q.putNowait('after');
          assert.deepEqual(drain(q), ['before', 'after']);
        });
      }

      test('a custom codec encodes and decodes every item', async () => {
        const codec = {
          encode: (v: unknown) => new TextEncoder().encode(JSON.stringify(v)),
          decode: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)),
        };
        const q = await mk.queue<unknown>(0, { codec });
        const items = ['消息', 1, { a: [true, null] }, []];
        await q.putMany(items);
        assert.deepEqual(await q.getMany(10), items);
      });

      if (mk.caps.handlesInItems) {
        test('a queue inside an item arrives attached to the same queue, as its own class', async () => {
          const carrier = await mk.queue<{ inner: QueueLike<string>; list: QueueLike<string>[] }>();
          const inner = await mk.queue<string>(2);
          const joinable = await mk.joinable<string>();
          carrier.putNowait({ inner, list: [inner, joinable] });
          const got = carrier.getNowait();
          assert.equal(got.inner.constructor, inner.constructor);
          assert.equal(got.list[1]!.constructor, joinable.constructor);
          assert.equal(got.inner.maxsize, 2);
          got.inner.putNowait('via the copy');
          assert.equal(inner.getNowait(), 'via the copy');
          inner.putNowait('via the original');
          assert.equal(got.list[0]!.getNowait(), 'via the original');
          got.list[1]!.putNowait('job');
          assert.equal(joinable.qsize(), 1);
          for (const copy of [got.inner, ...got.list]) copy.close();
        });
      } else {
        test('without shared memory: a Queue inside an item is a TypeError, the carrier unchanged', async () => {
          const carrier = await mk.queue<unknown>();
          carrier.putNowait('kept');
          const inner = await mk.queue();
          assert.throws(() => carrier.putNowait({ inner }), TypeError);
          assert.deepEqual(drain(carrier), ['kept']);
        });
      }
    });

    describe('abort', () => {
      const reason = new Error('the reason');
      type Case = [string, (q: QueueLike<string>, signal: AbortSignal) => Promise<unknown>, boolean];
      // [name, call, needs a full queue]
      const cases: Case[] = [
        ['get', (q, signal) => q.get({ signal }), false],
        ['getMany', (q, signal) => q.getMany(3, { signal }), false],
        ['put', (q, signal) => q.put('aborted', { signal }), true],
        ['putMany', (q, signal) => q.putMany(['aborted', 'aborted too'], { signal }), true],
      ];
      for (const [name, call, full] of cases) {
        test(`${name} with an already aborted signal rejects, takes and puts nothing`, async () => {
          const q = await mk.queue<string>(2);
          q.putNowait('present'); // an item to take, and room to put: still nothing may happen
          const signal = AbortSignal.abort(reason);
          const err = await rejectsAsync(() => call(q, signal), Error);
          assertAbortError(err, signal);
          await tick();
          assert.deepEqual(drain(q), ['present']);
        });

        test(`${name} aborted while waiting rejects with AbortError (cause: the reason) and changes nothing`, async () => {
          const q = await mk.queue<string>(1);
          if (full) q.putNowait('present');
          const ac = new AbortController();
          const p = call(q, ac.signal);
          await new Promise((resolve) => setTimeout(resolve, 20)); // let it reach its sleep
          ac.abort(reason);
          const err = await errorOf(() => p);
          assertAbortError(err, ac.signal);
          // Nothing taken, nothing put, and no leftover waiter takes or puts later.
          if (full) {
            assert.deepEqual(drain(q), ['present']);
          } else {
            q.putNowait('later');
            await tick();
            assert.deepEqual(drain(q), ['later']);
          }
          assert.ok((await errorOf(() => q.get({ timeout: 30 }))) instanceof Empty);
        });
      }

      test('putMany aborted after putting some: the error says how many (putCount); those, and only those, are in', async () => {
        const q = await mk.queue<string>(2);
        q.putNowait('present');
        const ac = new AbortController();
        const p = q.putMany(['a', 'b', 'c'], { signal: ac.signal });
        await new Promise((resolve) => setTimeout(resolve, 20));
        ac.abort(reason);
        const err = await errorOf(() => p);
        assertAbortError(err, ac.signal);
        assert.deepEqual(drain(q), ['present', 'a']);
        assert.equal(err.putCount, 1, 'putCount on the AbortError (as on Full and ShutDown)');
      });

      test('the default reason and AbortSignal.timeout: cause is signal.reason', async () => {
        const q = await mk.queue<string>();
        const ac = new AbortController();
        const p = q.get({ signal: ac.signal });
        await tick();
        ac.abort();
        assertAbortError(await errorOf(() => p), ac.signal);
        const signal = AbortSignal.timeout(30);
        const err = await errorOf(() => q.get({ signal }));
        assertAbortError(err, signal);
        assert.equal(err.cause?.name, 'TimeoutError');
      });

      test('JoinableQueue.join aborted while waiting rejects with AbortError', async () => {
        const jq = await mk.joinable<string>();
        jq.putNowait('unfinished');
        const ac = new AbortController();
        const p = jq.join({ signal: ac.signal });
        await tick();
        ac.abort(reason);
        assertAbortError(await errorOf(() => p), ac.signal);
        assert.equal(jq.qsize(), 1);
      });

      test('abort racing a put: the item is got exactly once or stays in the queue (300 races)', async () => {
        const q = await mk.queue<number>();
        let got = 0;
        let aborted = 0;
        for (let i = 0; i < 300; i++) {
          const ac = new AbortController();
          const p = q.get({ signal: ac.signal }).then(
            (v) => {
              assert.equal(v, i);
              got++;
              return true;
            },
            (e) => {
              assert.equal(e.name, 'AbortError');
              aborted++;
              return false;
            },
          );
          const put = () => q.putNowait(i);
          const abort = () => ac.abort();
          const order = i % 3;
          if (order === 0) {
            setImmediate(put);
            setImmediate(abort);
          } else if (order === 1) {
            queueMicrotask(abort);
            setImmediate(put);
          } else {
            setImmediate(abort);
            queueMicrotask(put);
          }
          const took = await p;
          await tick();
          if (took) assert.equal(q.qsize(), 0, `race ${i}: taken and still there`);
          else assert.equal(q.getNowait(), i, `race ${i}: aborted, yet the item is gone`);
        }
        assert.equal(got + aborted, 300);
      });
    });

    describe('close', () => {
      test('after close(), every put and get form fails with an error that says closed', async () => {
        const q = await mk.queue<string>(2);
        q.putNowait('left in the queue');
        q.close();
        q.close(); // idempotent
        const isClosed = (err: any, form: string) => {
          assert.ok(err instanceof Error, form);
          assert.match(err.message, /closed/, form);
          assert.ok(!(err instanceof Empty) && !(err instanceof Full), form);
        };
        for (const [form, call] of [
          ['putNowait', () => q.putNowait('x')],
          ['putSync', () => q.putSync('x')],
          ['getNowait', () => q.getNowait()],
          ['getSync', () => q.getSync()],
          ['putManySync', () => q.putManySync(['x'])],
          ['getManySync', () => q.getManySync(1)],
        ] as const) {
          assert.throws(call, Error, form);
          isClosed(await errorOf(call), form);
        }
        for (const [form, call] of [
          ['put', () => q.put('x')],
          ['get', () => q.get()],
          ['putMany', () => q.putMany(['x'])],
          ['getMany', () => q.getMany(1)],
          [
            'for await',
            async () => {
              for await (const _ of q) break;
            },
          ],
        ] as const) {
          isClosed(await rejectsAsync(call, Error, form), form);
        }
        assert.equal(await q.joinThread(), undefined);
        assert.equal(q.cancelJoinThread(), undefined);
      });

      test('close() closes this handle only: another handle of the same queue still works', async () => {
        const q = await mk.queue<string>();
        q.putNowait('kept');
        if (mk.segment === 'sab') {
          q.close();
          assert.throws(() => q.getNowait(), /closed/);
          return;
        }
        const other = await mk.reopen(q);
        q.close();
        assert.equal(other.getNowait(), 'kept');
        other.putNowait('still open');
        assert.equal(await other.get(), 'still open');
        other.close();
      });

      test('joinThread resolves after close (an unbounded queue buffers nothing)', async () => {
        const q = await mk.queue<string>();
        for (let i = 0; i < 1000; i++) q.putNowait(`item ${i}`);
        q.close();
        let timer: NodeJS.Timeout | undefined;
        const result = await Promise.race([
          q.joinThread().then(() => 'resolved'),
          new Promise((resolve) => (timer = setTimeout(resolve, 2000, 'still pending'))),
        ]);
        clearTimeout(timer);
        assert.equal(result, 'resolved');
      });
    });

    describe('shutdown (Python 3.13)', () => {
      test('shutdown(): puts throw ShutDown; gets drain what is left, then throw ShutDown', async () => {
        const q = await mk.queue<string>(5);
        q.putManySync(['a', 'b', 'c']);
        q.shutdown();
        assert.equal(q.isShutDown, true);
        for (const call of [
          () => q.putNowait('x'),
          () => q.putSync('x'),
          () => q.put('x'),
          () => q.putMany(['x']),
          () => q.putManySync(['x']),
        ]) {
          assert.ok((await errorOf(call)) instanceof ShutDown);
        }
        assert.equal(q.qsize(), 3);
        assert.equal(q.getNowait(), 'a');
        assert.equal(await q.get(), 'b');
        assert.deepEqual(q.getManySync(5), ['c']);
        for (const call of [
          () => q.getNowait(),
          () => q.getSync(),
          () => q.get(),
          () => q.getMany(2),
          () => q.getSync({ timeout: 10_000 }),
        ]) {
          const start = performance.now();
          assert.ok((await errorOf(call)) instanceof ShutDown);
          assertAtOnce(ms(start));
        }
        q.shutdown(); // again: no error
      });

      test('shutdown({ immediate: true }): items discarded, gets throw at once, qsize 0', async () => {
        const q = await mk.queue<string>(5);
        q.putManySync(['a', 'b', 'c']);
        q.shutdown({ immediate: true });
        assert.deepEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
        assert.ok((await errorOf(() => q.getNowait())) instanceof ShutDown);
        assert.ok((await errorOf(() => q.get())) instanceof ShutDown);
        assert.ok((await errorOf(() => q.putNowait('x'))) instanceof ShutDown);
      });

      test('shutdown() then shutdown({ immediate: true }) discards what was left to drain', async () => {
        const q = await mk.queue<string>();
        q.putManySync(['a', 'b']);
        q.shutdown();
        assert.equal(q.getNowait(), 'a');
        q.shutdown({ immediate: true });
        assert.equal(q.qsize(), 0);
        assert.throws(() => q.getNowait(), ShutDown);
      });

      test('shutdown wakes waiting getters and putters (async) with ShutDown', async () => {
        for (const immediate of [false, true]) {
          const empty = await mk.queue<string>();
          // Timeouts only so that a lost wake-up fails the test (late) instead of waiting for ever.
          const wait = { timeout: 3000 };
          const getters = [empty.get(wait), empty.getMany(2, wait), empty.get(wait)];
          const full = await mk.queue<string>(1);
          full.putNowait('x');
          const putters = [full.put('y', wait), full.putMany(['y', 'z'], wait), full.put('y', wait)];
          await tick();
          const t0 = performance.now();
          empty.shutdown({ immediate });
          full.shutdown({ immediate });
          const results = await Promise.allSettled([...getters, ...putters]);
          for (const r of results) {
            assert.equal(r.status, 'rejected');
            assert.ok((r as PromiseRejectedResult).reason instanceof ShutDown, String((r as any).reason));
          }
          assertAtOnce(ms(t0));
          assert.equal(full.qsize(), immediate ? 0 : 1);
        }
      });

      // A waiter that has just checked "shut down?" (no) and is about to sleep must still be woken: shutdown changes
      // no item count, so the compare-and-sleep on the count does not catch it unless shutdown wakes it properly.
      // Over a network the 16 sync shutdowns are 16 round trips, made while the waits are still connecting: a wake
      // is late when it takes most of the wait's timeout (a lost one ends it with Empty/Full instead of ShutDown).
      const [waitMs, lateMs] = mk.caps.syncViaHelperThread ? [5000, 3000] : [300, 200];
      for (const [label, full, start] of [
        ['get', false, (q: QueueLike<string>) => q.get({ timeout: waitMs })],
        ['getMany', false, (q: QueueLike<string>) => q.getMany(3, { timeout: waitMs })],
        ['put on a full queue', true, (q: QueueLike<string>) => q.put('y', { timeout: waitMs })],
        ['putMany on a full queue', true, (q: QueueLike<string>) => q.putMany(['y'], { timeout: waitMs })],
      ] as const) {
        test(`shutdown right after a ${label} started waiting wakes it at once (lost wake-up check, 4 × 16 queues)`, async () => {
          // Many queues at once, so that a lost wake-up costs one timeout per batch, not one per queue.
          const late: string[] = [];
          for (let batch = 0; batch < 4; batch++) {
            const immediate = batch % 2 === 1;
            const queues = await Promise.all(Array.from({ length: 16 }, () => mk.queue<string>(1)));
            const t0 = performance.now();
            const waiting = queues.map((q) => {
              if (full) q.putNowait('x');
              const p = start(q).then(
                () => ['resolved', ms(t0)] as const,
                (e) => [e.name as string, ms(t0)] as const,
              );
              q.shutdown({ immediate });
              return p;
            });
            for (const [k, [outcome, took]] of (await Promise.all(waiting)).entries()) {
              assert.equal(outcome, 'ShutDown', `batch ${batch}, queue ${k}`);
              if (took > lateMs)
                late.push(`batch ${batch} (immediate: ${immediate}), queue ${k}: ${Math.round(took)} ms`);
            }
          }
          assert.deepEqual(late, [], 'shutdown did not wake a waiter that had just gone to sleep');
        });
      }

      test('for await yields every item, then ends once shut down and drained', async () => {
        const q = await mk.queue<number>();
        q.putManySync([1, 2, 3]);
        const got: number[] = [];
        const done = (async () => {
          for await (const item of q) {
            got.push(item);
            if (item === 3) q.putManySync([4, 5]);
            if (item === 5) q.shutdown();
          }
        })();
        await done;
        assert.deepEqual(got, [1, 2, 3, 4, 5]);
        // Already shut down and empty: ends at once.
        for await (const _ of q) assert.fail('nothing to yield');
        // Shut down with items left: yields them first.
        const r = await mk.queue<string>();
        r.putManySync(['x', 'y']);
        r.shutdown();
        const rest: string[] = [];
        for await (const item of r) rest.push(item);
        assert.deepEqual(rest, ['x', 'y']);
      });
    });

    describe('JoinableQueue', () => {
      test('join resolves once every item put is marked done; join timeout; taskDone too many', async () => {
        const jq = await mk.joinable<number>();
        assert.equal(await jq.join(), true, 'nothing put: join resolves at once');
        assert.equal(jq.joinSync({ timeout: 0 }), true);
        assert.throws(() => jq.taskDone(), RangeError);
        jq.putNowait(1);
        await jq.putMany([2, 3]);
        let start = performance.now();
        assert.equal(await jq.join({ timeout: 80 }), false);
        assertWaited(ms(start), 80);
        start = performance.now();
        assert.equal(jq.joinSync({ timeout: 80 }), false);
        assertWaited(ms(start), 80);
        const joined = jq.join();
        assert.deepEqual(jq.getManySync(3), [1, 2, 3]);
        jq.taskDone();
        jq.taskDone();
        assert.equal(await jq.join({ timeout: 10 }), false, 'one task still unfinished');
        jq.taskDone();
        assert.equal(await joined, true);
        assert.throws(() => jq.taskDone(), RangeError);
        assert.equal(await jq.join({ timeout: 0 }), true);
        jq.shutdown();
        assert.throws(() => jq.putNowait(4), ShutDown);
        assert.equal(await jq.join({ timeout: 0 }), true, 'a refused put adds no unfinished task');
      });

      test('shutdown({ immediate: true }) marks discarded items done, so join returns', async () => {
        const jq = await mk.joinable<number>();
        jq.putManySync([1, 2, 3]);
        const joined = jq.join({ timeout: 10_000 });
        await tick();
        jq.shutdown({ immediate: true });
        assert.equal(await joined, true);
      });

      test('immediate shutdown with a task in progress: join waits for its taskDone (Python 3.13)', async () => {
        const jq = await mk.joinable<number>();
        jq.putManySync([1, 2, 3]);
        assert.equal(jq.getNowait(), 1); // in progress: not done yet
        jq.shutdown({ immediate: true });
        assert.equal(await jq.join({ timeout: 50 }), false);
        jq.taskDone();
        assert.equal(await jq.join({ timeout: 1000 }), true);
      });
    });

    if (mk.segment !== undefined) {
      describe('SimpleQueue', () => {
        test('put/get/empty/close, unbounded, FIFO', async () => {
          const q = new SimpleQueue<string>();
          assert.equal(q.empty(), true);
          await q.put('a');
          q.putSync('b');
          assert.equal(q.empty(), false);
          assert.equal(await q.get(), 'a');
          assert.equal(q.getSync(), 'b');
          assert.equal(q.empty(), true);
          assert.ok((await errorOf(() => q.get({ timeout: 20 }))) instanceof Empty);
          q.close();
          assert.throws(() => q.putSync('c'), /closed/);
        });
      });
    }
  });
}
