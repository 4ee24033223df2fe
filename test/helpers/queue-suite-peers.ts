// The Queue contract between peers: the same tests with the peer in-process, in a worker thread and in a spawned
// process (CPython's _test_multiprocessing style; crossbeam's ladder: smoke, capacity, len_empty_full, spsc, mpmc,
// stress, linearizable). Installed by queue-suite.ts for each peer kind the segment kind reaches.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Empty, Full, JoinableQueue, Queue, type QueueLike, ShutDown, SimpleQueue } from '../../src/index.js';
import { itemOf, jsonCodec, type Outcome, STOP, T } from '../fixtures/queue-peers.js';
import { bigItems, bytesOf, sampleItems } from './items.js';
import { type PeerGroup, type PeerKind, withPeers } from './peers.js';
import { type QueueFactory, shmFactory } from './queue-factory.js';
import { errorOf, ms, scaled } from './util.js';

const TEST = { timeout: 90_000 };

/** Gets `n` items (each within T ms). */
async function take<V>(q: QueueLike<V>, n: number): Promise<V[]> {
  const out: V[] = [];
  for (let i = 0; i < n; i++) out.push(await q.get({ timeout: T }));
  return out;
}

/** Whether `p` settles within `ms` (it is left running otherwise). */
async function endsWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  const ended = await Promise.race([p.then(() => true), late]);
  clearTimeout(timer);
  return ended;
}

/** Waits for the peer's 'ready' on `res`. */
async function ready(res: QueueLike<unknown>): Promise<void> {
  assert.equal(await res.get({ timeout: T }), 'ready');
}

/**
 * Checks what consumers got from producers `tags` (n items each, `itemOf`): every item exactly once, intact, and
 * in each consumer's sequence each producer's items in the order they were put.
 */
function checkDelivery(results: string[][], tags: string[], n: number): void {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const [c, list] of results.entries()) {
    const last = new Map<string, number>();
    for (const item of list) {
      const [tag, idx] = item.split(':');
      const i = Number(idx);
      if (!tags.includes(tag!) || !(i >= 0 && i < n) || item !== itemOf(tag!, i)) {
        problems.push(`consumer ${c}: unexpected or torn item ${JSON.stringify(item.slice(0, 60))}`);
        continue;
      }
      if (seen.has(`${tag}:${i}`)) problems.push(`duplicate ${tag}:${i}`);
      seen.add(`${tag}:${i}`);
      if ((last.get(tag!) ?? -1) >= i)
        problems.push(`consumer ${c}: ${tag}:${i} after ${tag}:${last.get(tag!)}`);
      last.set(tag!, i);
    }
  }
  for (const tag of tags)
    for (let i = 0; i < n; i++) if (!seen.has(`${tag}:${i}`)) problems.push(`lost ${tag}:${i}`);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} delivery problems`);
}

export interface Mpmc {
  maxsize: number;
  capacityBytes?: number;
  n: number;
  producers: PeerKind[];
  consumers: PeerKind[];
  batch?: number;
}

/** Producers × consumers over one queue; returns when every item is checked. */
export async function mpmc(peers: PeerGroup, o: Mpmc, mk: QueueFactory = shmFactory('shm')): Promise<void> {
  const q = await mk.queue<string>(o.maxsize, { capacityBytes: o.capacityBytes });
  const done = await mk.queue<string>();
  const out = await mk.queue<string[]>();
  const tags = o.producers.map((_, i) => `P${i}`);
  o.producers.forEach((kind, i) => {
    if (o.batch) peers.start('produceMany', [q, tags[i], o.n, done, o.batch], { kind });
    else peers.start('produce', [q, tags[i], o.n, done], { kind });
  });
  for (const kind of o.consumers) {
    if (o.batch) peers.start('consumeMany', [q, out, o.batch], { kind });
    else peers.start('consume', [q, out], { kind });
  }
  await take(done, o.producers.length);
  for (const _ of o.consumers) await q.put(STOP, { timeout: T });
  checkDelivery(await take(out, o.consumers.length), tags, o.n);
  assert.equal(q.qsize(), 0);
}

export function installPeerSuite(mk: QueueFactory, kind: PeerKind): void {
  const segment = mk.label;
  describe(`Queue contract across ${kind} peers (${mk.segment ? 'segment' : 'transport'}: ${segment})`, () => {
    const run = (body: (peers: PeerGroup) => Promise<void>) => () => withPeers(kind, body);
    // Over a network every item is a round trip (a helper thread's, in the sync forms): a third of the items, so a
    // loaded machine stays within the peers' timeouts. What is checked is the same.
    const sized = (k: number): number => scaled(mk.caps.syncViaHelperThread ? Math.ceil(k / 3) : k);
    // Company for the variants of mpmc: this thread's own async peers (starting processes is slow).
    const near: PeerKind = 'inproc';

    test(
      'smoke: a peer gets what the parent puts and the parent gets what the peer puts, in order',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<string>();
        const done = await mk.queue<string>();
        peers.start('produce', [q, 'S', 20, done]);
        assert.deepEqual(
          await take(q, 20),
          Array.from({ length: 20 }, (_, i) => itemOf('S', i)),
        );
        assert.equal(await done.get({ timeout: T }), 'S');
        const qin = await mk.queue<string>();
        const qout = await mk.queue<string>();
        peers.start('echo', [qin, qout, 3]);
        qin.putManySync(['消息 1', 'message 2', '🎉']);
        assert.deepEqual(await take(qout, 3), ['消息 1', 'message 2', '🎉']);
      }),
    );

    test(
      'items: every kind round-trips through the peer equal and with its type (64-byte rings)',
      TEST,
      run(async (peers) => {
        const items = sampleItems();
        const qin = await mk.queue<unknown>(0, { capacityBytes: 64 });
        const qout = await mk.queue<unknown>(0, { capacityBytes: 64 });
        peers.start('echo', [qin, qout, items.length]);
        for (const [, v] of items) await qin.put(v);
        const wrong: string[] = [];
        for (const [label, v, ...expected] of items) {
          const got = await qout.get({ timeout: T });
          try {
            assert.deepStrictEqual(got, expected.length ? expected[0] : v);
          } catch {
            wrong.push(label);
          }
        }
        assert.deepEqual(wrong, [], 'items that arrived different');
      }),
    );

    test(
      'items: 8 MiB items through 64-byte rings to the peer and back arrive whole and in order',
      TEST,
      run(async (peers) => {
        const items = bigItems(8 * 1024 * 1024);
        const qin = await mk.queue<unknown>(0, { capacityBytes: 64 });
        const qout = await mk.queue<unknown>(0, { capacityBytes: 64 });
        peers.start('echo', [qin, qout, items.length + 2]);
        await qin.put('first');
        for (const [, v] of items) await qin.put(v);
        await qin.put('last');
        assert.equal(await qout.get({ timeout: T }), 'first');
        for (const [label, v] of items) {
          const got = await qout.get({ timeout: T });
          assert.ok(Object.getPrototypeOf(got) === Object.getPrototypeOf(v), `${label}: type`);
          if (typeof v === 'string') assert.ok(got === v, `${label}: content`);
          else assert.ok(bytesOf(got).equals(bytesOf(v)), `${label}: content`);
        }
        assert.equal(await qout.get({ timeout: T }), 'last');
      }),
    );

    test(
      'capacity: a peer blocked in put on a full queue is woken by a get; one blocked in get by a put',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<string>(1);
        q.putNowait('old');
        const res = await mk.queue<Outcome | string>();
        peers.start('blockedPut', [q, res, 'new']);
        await ready(res);
        assert.equal(await q.get({ timeout: T }), 'old');
        assert.deepEqual(await res.get({ timeout: T }), { ok: true, value: undefined });
        assert.equal(await q.get({ timeout: T }), 'new');
        const e = await mk.queue<string>(1);
        const res2 = await mk.queue<Outcome | string>();
        peers.start('blockedGet', [e, res2]);
        await ready(res2);
        await e.put('wake up');
        assert.deepEqual(await res2.get({ timeout: T }), { ok: true, value: 'wake up' });
      }),
    );

    test(
      'capacity: Full and Empty after their timeouts in the peer; nothing changed',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<string>(2);
        q.putManySync(['a', 'b']);
        const res = await mk.queue<Outcome | string>();
        peers.start('blockedPut', [q, res, 'c', 100]);
        await ready(res);
        const put = (await res.get({ timeout: T })) as Outcome;
        assert.deepEqual([put.ok, put.name, put.code], [false, 'Full', 'PROCQ_FULL']);
        assert.deepEqual(q.getManySync(5), ['a', 'b']);
        peers.start('blockedGet', [q, res, 100]);
        await ready(res);
        const got = (await res.get({ timeout: T })) as Outcome;
        assert.deepEqual([got.ok, got.name, got.code], [false, 'Empty', 'PROCQ_EMPTY']);
        assert.equal(q.qsize(), 0);
      }),
    );

    if (kind !== 'inproc') {
      test(
        "keep-alive: the peer's async get and put stay pending through an idle spell, then complete",
        TEST,
        run(async (peers) => {
          const empty = await mk.queue<string>();
          const full = await mk.queue<string>(1);
          full.putNowait('old');
          const res = await mk.queue<Outcome | string>();
          const res2 = await mk.queue<Outcome | string>();
          peers.start('blockedGet', [empty, res], { form: 'async' });
          peers.start('blockedPut', [full, res2, 'new'], { form: 'async' });
          await ready(res);
          await ready(res2);
          // Nothing else keeps the peer's event loop busy meanwhile: only its pending calls may hold it open.
          await new Promise((resolve) => setTimeout(resolve, 300));
          await empty.put('late');
          assert.equal(await full.get({ timeout: T }), 'old');
          assert.deepEqual(await res.get({ timeout: 5000 }), { ok: true, value: 'late' });
          assert.deepEqual(await res2.get({ timeout: 5000 }), { ok: true, value: undefined });
          assert.equal(full.getNowait(), 'new');
        }),
      );
    }

    test(
      'len_empty_full: qsize/empty/full/maxsize seen by the peer are exact at every step',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<string>(3);
        const cmd = await mk.queue<string>();
        const res = await mk.queue<unknown>();
        peers.start('observer', [q, cmd, res]);
        const ask = async (c: string) => {
          await cmd.put(c);
          return res.get({ timeout: T });
        };
        assert.deepEqual(await ask('sizes'), [0, true, false, 3]);
        q.putManySync(['a', 'b']);
        assert.deepEqual(await ask('sizes'), [2, false, false, 3]);
        assert.deepEqual(await ask('putNowait:c'), { ok: true, value: undefined });
        assert.deepEqual([q.qsize(), q.full()], [3, true]);
        assert.deepEqual(await ask('sizes'), [3, false, true, 3]);
        const full = (await ask('putNowait:d')) as Outcome;
        assert.equal(full.code, 'PROCQ_FULL');
        assert.deepEqual(await ask('getNowait'), { ok: true, value: 'a' });
        assert.deepEqual([q.qsize(), q.full()], [2, false]);
        assert.deepEqual(q.getManySync(5), ['b', 'c']);
        assert.deepEqual(await ask('sizes'), [0, true, false, 3]);
        const empty = (await ask('getNowait')) as Outcome;
        assert.equal(empty.code, 'PROCQ_EMPTY');
        await cmd.put('stop');
      }),
    );

    test(
      'spsc: a peer puts, the parent gets, in order (single items, then putMany/getMany)',
      TEST,
      run(async (peers) => {
        const n = sized(3000);
        const q = await mk.queue<string>(64);
        const done = await mk.queue<string>();
        peers.start('produce', [q, 'A', n, done]);
        for (let i = 0; i < n; i++) assert.equal(await q.get({ timeout: T }), itemOf('A', i));
        peers.start('produceMany', [q, 'B', n, done, 50]);
        const got: string[] = [];
        while (got.length < n) got.push(...(await q.getMany(64, { timeout: T })));
        assert.equal(got.length, n);
        for (let i = 0; i < n; i++) assert.equal(got[i], itemOf('B', i));
        assert.deepEqual((await take(done, 2)).sort(), ['A', 'B']);
      }),
    );

    test(
      'mpmc: 2 producers × 2 consumers over Queue(64) deliver every item exactly once, per-producer FIFO',
      TEST,
      run((peers) =>
        mpmc(peers, { maxsize: 64, n: sized(1500), producers: [kind, kind], consumers: [kind, kind] }, mk),
      ),
    );

    test(
      'mpmc: the same with putMany/getMany batches (two of the four peers in this thread)',
      TEST,
      run((peers) =>
        mpmc(
          peers,
          {
            maxsize: 64,
            n: sized(1500),
            batch: 16,
            producers: [kind, near],
            consumers: [near, kind],
          },
          mk,
        ),
      ),
    );

    test(
      'mpmc: a one-frame ring (Queue(1), capacityBytes: 64) wraps around on every put, nothing lost or torn (two peers here)',
      TEST,
      run((peers) =>
        mpmc(
          peers,
          {
            maxsize: 1,
            capacityBytes: 64,
            n: sized(400),
            producers: [kind, near],
            consumers: [near, kind],
          },
          mk,
        ),
      ),
    );

    test(
      'stress: 3 producers × 3 consumers (three here), unbounded queue on a 64-byte ring (sizes × PROCQ_STRESS)',
      TEST,
      run((peers) =>
        mpmc(
          peers,
          {
            maxsize: 0,
            capacityBytes: 64,
            n: sized(1500),
            producers: [kind, kind, near],
            consumers: [near, kind, near],
          },
          mk,
        ),
      ),
    );

    test(
      'linearizable: a put that returned in the peer is visible here, ahead of a later put here; room freed here is visible there',
      TEST,
      run(async (peers) => {
        const n = sized(200);
        const q = await mk.queue<number>();
        const sig = await mk.queue<number>();
        peers.start('putThenSignal', [q, sig, n]);
        for (let i = 0; i < n; i++) {
          assert.equal(await sig.get({ timeout: T }), i);
          // Items 0..i from the peer and markers for 0..i-1 from here are in: none may be invisible.
          assert.ok(q.qsize() >= 2 * i + 1, `item ${i} was not visible when its producer said it was put`);
          q.putNowait(-1 - i); // put after the peer's put of i returned: global FIFO puts it behind i
        }
        const order = q.getManySync(2 * n);
        assert.equal(order.length, 2 * n);
        const at = new Map(order.map((v, k) => [v, k]));
        for (let i = 0; i < n; i++) {
          assert.ok(at.get(i)! < at.get(-1 - i)!, `${-1 - i} (put after ${i} was put) came first`);
          if (i > 0)
            assert.ok(at.get(i - 1)! < at.get(i)! && at.get(-i)! < at.get(-1 - i)!, 'per-producer FIFO');
        }
        const one = await mk.queue<number>(1);
        const sig2 = await mk.queue<number>();
        const res = await mk.queue<Outcome>();
        one.putNowait(-1);
        peers.start('roomThenPutNowait', [one, sig2, res, n]);
        for (let i = 0; i < n; i++) {
          assert.equal(one.getNowait(), i - 1);
          await sig2.put(i);
          const r = await res.get({ timeout: T });
          assert.deepEqual(
            r,
            { ok: true, value: undefined },
            `room freed before signal ${i} was not visible: ${r.code}`,
          );
        }
        assert.equal(one.getNowait(), n - 1);
      }),
    );

    test(
      'getMany in the peer waits for the first item only',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<string>();
        const res = await mk.queue<Outcome | string>();
        peers.start('getManyOnce', [q, res, 10]);
        await ready(res);
        await q.put('only one');
        assert.deepEqual(await res.get({ timeout: T }), { ok: true, value: ['only one'] });
        peers.start('getManyOnce', [q, res, 2]);
        await ready(res);
        await q.putMany(['x', 'y', 'z']);
        const r = (await res.get({ timeout: T })) as Outcome;
        const got = r.value as string[];
        assert.ok(got.length >= 1 && got.length <= 2, `getMany(2) gave ${got.length}`);
        assert.deepEqual([...got, ...q.getManySync(5)], ['x', 'y', 'z']);
      }),
    );

    test(
      'shutdown here wakes a peer blocked in get and one blocked in put, with ShutDown (both modes)',
      TEST,
      run(async (peers) => {
        const late: string[] = [];
        for (const immediate of [false, true]) {
          const empty = await mk.queue<string>();
          const full = await mk.queue<string>(1);
          full.putNowait('x');
          const res = await mk.queue<Outcome | string>();
          const res2 = await mk.queue<Outcome | string>();
          // A 3 s timeout: a waiter that shutdown fails to wake ends with ShutDown all the same, but late.
          peers.start('blockedGet', [empty, res, 3000]);
          peers.start('blockedPut', [full, res2, 'y', 3000]);
          await ready(res);
          await ready(res2);
          const t0 = performance.now();
          empty.shutdown({ immediate });
          full.shutdown({ immediate });
          for (const [name, r] of [
            ['get', res],
            ['put', res2],
          ] as const) {
            const o = (await r.get({ timeout: T })) as Outcome;
            assert.deepEqual(
              [o.ok, o.name, o.code],
              [false, 'ShutDown', 'PROCQ_SHUTDOWN'],
              `immediate: ${immediate}`,
            );
            const took = ms(t0);
            if (took > 1500)
              late.push(`${name} (immediate: ${immediate}) woken ${Math.round(took)} ms after shutdown`);
          }
          assert.equal(full.qsize(), immediate ? 0 : 1);
        }
        assert.deepEqual(late, [], 'shutdown woke blocked peers late (lost wake-up)');
      }),
    );

    for (const which of ['get', 'put'] as const) {
      test(
        `shutdown here wakes a peer's ${which} that has just gone to sleep (lost wake-up check, 2 × 6 rounds)`,
        TEST,
        run(async (peers) => {
          const late: string[] = [];
          // Over a network 'ready' and the shutdown are round trips: late is most of a longer timeout (a lost
          // wake-up ends the wait with Empty/Full at its timeout instead of ShutDown).
          const [waitMs, lateMs] = mk.caps.syncViaHelperThread ? [5000, 3000] : [400, 200];
          for (const form of ['sync', 'async'] as const) {
            if (kind === 'inproc' && form === 'sync') continue;
            const rounds = kind === 'inproc' ? 12 : 6;
            const queues = await Promise.all(Array.from({ length: rounds }, () => mk.queue<string>(1)));
            if (which === 'put') for (const q of queues) q.putNowait('x');
            const res = await mk.queue<unknown>();
            peers.start('waitRounds', [queues, res, which, waitMs], { form });
            for (const [i, q] of queues.entries()) {
              await ready(res);
              q.shutdown({ immediate: i % 2 === 1 });
              const [code, took] = (await res.get({ timeout: T })) as [string, number];
              assert.equal(code, 'PROCQ_SHUTDOWN');
              if (took > lateMs) late.push(`${form} round ${i}: woken after ${took} ms`);
            }
          }
          assert.deepEqual(late, [], 'shutdown did not wake a waiter that had just gone to sleep');
        }),
      );
    }

    test(
      'shutdown in a peer: puts here throw ShutDown; gets drain, then throw ShutDown; for await ends',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<string>();
        peers.start('putAndShutdown', [q, ['a', 'b', 'c'], false]);
        const got: string[] = [];
        const iterating = (async () => {
          for await (const item of q) got.push(item);
        })();
        // `for await` has no timeout: if the peer's shutdown fails to wake it, shut down again here to end it, so
        // the test fails instead of leaving a wait that keeps this process alive for ever.
        const ended = await endsWithin(iterating, 5000);
        if (!ended) {
          q.shutdown();
          await iterating;
        }
        assert.ok(ended, "for await did not end within 5 s of the peer's shutdown (a lost wake-up)");
        assert.deepEqual(got, ['a', 'b', 'c']);
        assert.equal(q.isShutDown, true);
        assert.ok((await errorOf(() => q.putNowait('x'))) instanceof ShutDown);
        assert.ok((await errorOf(() => q.get({ timeout: T }))) instanceof ShutDown);
        const r = await mk.queue<string>();
        peers.start('putAndShutdown', [r, ['d', 'e'], true]);
        await peers.join();
        assert.equal(r.qsize(), 0, 'immediate: discarded');
        assert.ok((await errorOf(() => r.getNowait())) instanceof ShutDown);
      }),
    );

    test(
      'shutdown here: the peer sees it (put forms throw ShutDown; drained get throws ShutDown); its for await ends',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<string>();
        q.shutdown();
        const res = await mk.queue<unknown>();
        peers.start('afterShutdown', [q, res]);
        const [putNowait, put, getNowait, isShutDown] = (await res.get({ timeout: T })) as [
          Outcome,
          Outcome,
          Outcome,
          boolean,
        ];
        for (const o of [putNowait, put, getNowait])
          assert.equal(o.code, 'PROCQ_SHUTDOWN', JSON.stringify(o));
        assert.equal(isShutDown, true);
        const items = await mk.queue<number>();
        const out = await mk.queue<unknown>();
        peers.start('iterate', [items, out]);
        await items.putMany([1, 2, 3]);
        await items.put(4);
        items.shutdown();
        // As above: the peer's `for await` has no timeout; a second shutdown ends it if the first one was lost.
        let collected: unknown;
        try {
          collected = await out.get({ timeout: 5000 });
        } catch (err) {
          if (!(err instanceof Empty)) throw err;
          items.shutdown();
          assert.fail("the peer's for await did not end within 5 s of shutdown (a lost wake-up)");
        }
        assert.deepEqual(collected, [1, 2, 3, 4]);
      }),
    );

    test(
      'JoinableQueue: join resolves when peers marked every item done; taskDone too many is RangeError there',
      TEST,
      run(async (peers) => {
        const jq = await mk.joinable<number>();
        const out = await mk.queue<unknown>();
        const n = 50;
        peers.start('worker', [jq, out, n]);
        peers.start('worker', [jq, out, n]);
        await jq.putMany(Array.from({ length: 2 * n }, (_, i) => i));
        assert.equal(await jq.join({ timeout: T }), true);
        const got = [
          ...((await out.get({ timeout: T })) as number[]),
          ...((await out.get({ timeout: T })) as number[]),
        ];
        assert.deepEqual(
          got.sort((a, b) => a - b),
          Array.from({ length: 2 * n }, (_, i) => i),
        );
        const fresh = await mk.joinable<number>();
        const res = await mk.queue<any>();
        peers.start('joinableChecks', [fresh, res]);
        const r = await res.get({ timeout: T });
        assert.equal(r.isJoinable, true, 'a JoinableQueue arrives as a JoinableQueue');
        assert.deepEqual([r.tooMany.ok, r.tooMany.name], [false, 'RangeError']);
        assert.equal(r.joinAtOnce, true);
      }),
    );

    if (mk.segment !== undefined) {
      test(
        'Queues among the args arrive attached and as their own classes',
        TEST,
        run(async (peers) => {
          const res = await mk.queue<any>();
          peers.start('classes', [res, new Queue(5), new JoinableQueue(2), new SimpleQueue()]); // shared memory only
          const [q, jq, sq] = await res.get({ timeout: T });
          assert.deepEqual(q, { Queue: true, JoinableQueue: false, SimpleQueue: false, maxsize: 5 });
          assert.deepEqual(jq, { Queue: true, JoinableQueue: true, SimpleQueue: false, maxsize: 2 });
          assert.deepEqual(sq, { Queue: true, JoinableQueue: false, SimpleQueue: true, maxsize: 0 });
        }),
      );
    }

    if (mk.caps.handlesInItems) {
      test(
        'a queue inside an item arrives attached: the peer answers on it',
        TEST,
        run(async (peers) => {
          const q = await mk.queue<any>();
          peers.start('replier', [q]);
          const replies = [await mk.queue<string>(), await mk.queue<string>(1)];
          await q.put({ reply: replies[0], text: '消息 one' });
          await q.put({ reply: replies[1], text: 'two' });
          assert.equal(await replies[1]!.get({ timeout: T }), 'two back');
          assert.equal(await replies[0]!.get({ timeout: T }), '消息 one back');
          await q.put(STOP);
        }),
      );
    }

    if (segment === 'shm') {
      test(
        'a Queue created in the peer reaches the parent inside an item, and outlives the peer',
        TEST,
        run(async (peers) => {
          const q = await mk.queue<any>();
          const ack = await mk.queue<string>();
          peers.start('sendsOwnQueue', [q, ack, 3]);
          const { mine, note } = await q.get({ timeout: T });
          assert.equal(note, 'a queue made in a peer');
          assert.ok(mine instanceof Queue);
          assert.equal(mine.maxsize, 3);
          assert.equal(mine.full(), true);
          await ack.put('attached');
          await peers.join();
          assert.deepEqual(mine.getManySync(5), ['made here 0', 'made here 1', 'made here 2']);
          mine.putNowait('still works');
          assert.equal(mine.getNowait(), 'still works');
        }),
      );
    }

    if (kind !== 'inproc') {
      // (An in-process peer shares this thread's handle: closing it here would close it there too.)
      test(
        'close() here: what was put before still reaches the peer, and joinThread resolves',
        TEST,
        run(async (peers) => {
          const q = await mk.queue<string>();
          const out = await mk.queue<string>();
          q.putManySync(['a', 'b', 'c']);
          q.close();
          await q.joinThread();
          peers.start('echo', [q, out, 3]);
          assert.deepEqual(await take(out, 3), ['a', 'b', 'c']);
        }),
      );

      if (mk.caps.codecTravels) {
        test(
          'a queue made with a custom codec: the codec does not travel, the peer is told to attach it (withCodec)',
          TEST,
          run(async (peers) => {
            const q = await mk.queue<unknown>(0, { codec: jsonCodec });
            const res = await mk.queue<Outcome | string>();
            peers.start('blockedGet', [q, res, 5000]);
            await ready(res);
            await q.put({ job: '消息', n: [1, 2] });
            const outcome = (await res.get({ timeout: T })) as Outcome;
            assert.equal(outcome.ok, false);
            assert.match(outcome.message!, /withCodec/);
            // The item the peer could not decode is still there (see the next test); here, where the codec is known,
            // a second handle with it reads it, and what the first handle writes next.
            const again = (q as Queue<unknown>).withCodec(jsonCodec);
            assert.deepEqual(await again.get({ timeout: T }), { job: '消息', n: [1, 2] });
            await q.put([1, '消息']);
            assert.deepEqual(await again.get({ timeout: T }), [1, '消息']);
            // In the peer, importing the codec from a module both share: items both ways.
            const back = await mk.queue<unknown>(0, { codec: jsonCodec });
            peers.start('echoWithCodec', [q, back, 2]);
            await q.putMany([{ a: '消息' }, [null, 2.5]]);
            assert.deepEqual(
              [await back.get({ timeout: T }), await back.get({ timeout: T })],
              [{ a: '消息' }, [null, 2.5]],
            );
          }),
        );

        test(
          'a get that cannot decode an item (its codec missing here) leaves the item in the queue',
          TEST,
          run(async (peers) => {
            const q = await mk.queue<unknown>(0, { codec: jsonCodec });
            const res = await mk.queue<Outcome | string>();
            await q.put({ precious: true });
            peers.start('blockedGet', [q, res, 5000]);
            await ready(res);
            const outcome = (await res.get({ timeout: T })) as Outcome;
            assert.equal(outcome.ok, false);
            assert.equal(
              q.qsize(),
              1,
              'the item the peer could not decode is gone: a failed get consumed it',
            );
            assert.deepEqual(q.getNowait(), { precious: true });
          }),
        );
      }

      test(
        'close() in the peer closes its handle only: there put/get say closed, here the queue works',
        TEST,
        run(async (peers) => {
          const q = await mk.queue<string>();
          q.putNowait('for the parent');
          const res = await mk.queue<Outcome[]>();
          peers.start('closeHere', [q, res]);
          const [put, get, joinThread] = (await res.get({ timeout: T })) as Outcome[];
          for (const o of [put!, get!]) {
            assert.equal(o.ok, false);
            assert.match(o.message!, /closed/);
          }
          assert.deepEqual(joinThread, { ok: true, value: undefined });
          assert.equal(q.getNowait(), 'for the parent');
          q.putNowait('x');
          assert.equal(q.getNowait(), 'x');
        }),
      );
    }

    test(
      'items outlive their producer: join the peer first, then get everything (no feeder-thread deadlock)',
      TEST,
      run(async (peers) => {
        const n = 300;
        const big = 100_000; // ~3 MB in all: far beyond any pipe buffer
        const q = await mk.queue<string>();
        peers.start('putAndLeave', [q, n, big]);
        await peers.join();
        assert.equal(q.qsize(), n);
        for (let i = 0; i < n; i++) {
          const item = q.getNowait();
          assert.equal(item, i % 10 === 0 ? `${i}:${'y'.repeat(big)}` : `${i}`);
        }
        assert.ok((await errorOf(() => q.getNowait())) instanceof Empty);
      }),
    );

    test(
      'putMany to a small queue waits for the peer consumer and keeps order; Full with putCount when it stops',
      TEST,
      run(async (peers) => {
        const q = await mk.queue<number>(2);
        const out = await mk.queue<number>();
        peers.start('echo', [q, out, 40]);
        const items = Array.from({ length: 40 }, (_, i) => i);
        assert.equal(await q.putMany(items, { timeout: T }), 40);
        assert.deepEqual(await take(out, 40), items);
        await peers.join(); // the peer is gone: nobody makes room
        q.putNowait(-1);
        const err = await errorOf(() => q.putMany([1, 2, 3], { timeout: 50 }));
        assert.ok(err instanceof Full);
        assert.equal((err as any).putCount, 1);
      }),
    );
  });
}
