/**
 * Soak: producers and consumers in OS processes, in worker threads and in this thread, with every put and get form
 * (sync, async, nowait, batches), on a bounded, an unbounded and a joinable queue, for PROCQ_SOAK_SECONDS seconds
 * (default 5; CI runs the default, a release check minutes). Nothing is killed: every item put must come out
 * exactly once, whole, in its producer's order, the joinable queue's join() must return, the queues must end
 * empty and at rest, and nothing may stall (every wait is bounded; deliveries are watched).
 *
 * Items are numbered globally (one bit each in a bitmap in shared memory: a second delivery is caught at once).
 */

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, test } from 'node:test';
import { ShutDown } from '../src/errors.js';
import { loadNative } from '../src/native/index.js';
import { activeChildren, Process, type StartMethod } from '../src/process/index.js';
import { JoinableQueue, Queue } from '../src/queue/queue.js';
import { C_INTENT_HEAD, CAP, HEAD, P_INTENT_TAIL, TAIL } from '../src/ring/layout.js';
import {
  Control,
  W_BUDGET,
  W_CORRUPT,
  W_DELIVERED,
  W_DISORDER,
  W_DUPLICATES,
  W_ISSUED,
  W_STOP_CONSUMERS,
  W_STOP_PRODUCERS,
} from './fixtures/chaos-common.js';
import { type SoakForm, soakConsumer, soakNote, soakProducer } from './fixtures/chaos-targets.js';
import { PROCESS_METHOD } from './helpers/util.js';

const native = loadNative();
const skip = native === null ? 'the native addon is not built: no process can share a queue' : false;
const SECONDS = Number(process.env.PROCQ_SOAK_SECONDS ?? 0) || 5;
const BUDGET = Math.min(100_000 * SECONDS, 2 ** 30);
const TARGETS = new URL('./fixtures/chaos-targets.js', import.meta.url);
const STALL_MS = 20_000;
const JOIN_MS = 30_000;
/** A put that waits this long fails its producer: the soak never stalls. */
const PUT_LIMIT_MS = 20_000;
const childPids = new Set<number>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

after(() => {
  const left = readdirSync('/dev/shm').filter((n) =>
    [...childPids].some((pid) => n.startsWith(`procq-${pid}-`)),
  );
  assert.deepEqual(left, [], 'segments left in /dev/shm by the children');
});

interface Peer {
  what: string;
  p: Process;
}

test(`soak for ${SECONDS} s: processes, threads and this thread, every form, three queues: each item exactly once`, {
  skip,
  timeout: SECONDS * 1000 + 240_000,
}, async (t) => {
  const ctl = Control.create(0, BUDGET);
  ctl.set(W_BUDGET, BUDGET);
  const bounded = new Queue<any>(32, { capacityBytes: 2048 });
  const unbounded = new Queue<any>(0, { capacityBytes: 1024 });
  const joinable = new JoinableQueue<any>(64, { capacityBytes: 4096 });
  const queues = { bounded, unbounded, joinable };
  let nextId = 0;
  const peer = (
    role: 'producer' | 'consumer',
    q: keyof typeof queues,
    method: StartMethod,
    form: SoakForm,
  ): Peer => {
    const args =
      role === 'producer'
        ? [queues[q], ctl.handle, nextId++, form, PUT_LIMIT_MS]
        : [queues[q], ctl.handle, form];
    const p = new Process({
      target: role === 'producer' ? 'soakProducer' : 'soakConsumer',
      module: TARGETS,
      args,
      startMethod: method,
      daemon: true,
    });
    p.start();
    if (method !== 'thread') childPids.add(p.pid!);
    return { what: `${role} ${method} ${form} on ${q}`, p };
  };

  const producers = [
    peer('producer', 'bounded', PROCESS_METHOD, 'sync'),
    peer('producer', 'bounded', 'thread', 'many-async'),
    peer('producer', 'unbounded', PROCESS_METHOD, 'many-sync'),
    peer('producer', 'unbounded', 'thread', 'nowait'),
    peer('producer', 'joinable', PROCESS_METHOD, 'async'),
    peer('producer', 'joinable', 'thread', 'sync'),
  ];
  const consumers = [
    peer('consumer', 'bounded', PROCESS_METHOD, 'many-sync'),
    peer('consumer', 'bounded', 'thread', 'async'),
    peer('consumer', 'unbounded', PROCESS_METHOD, 'nowait'),
    peer('consumer', 'unbounded', 'thread', 'many-async'),
    peer('consumer', 'joinable', PROCESS_METHOD, 'sync'),
  ];
  const all = [...producers, ...consumers];
  // This thread: an async producer on the bounded queue, an async consumer on the unbounded one, and an async
  // iteration of the joinable one (ends when it is shut down and drained).
  const here = [
    soakProducer(bounded, ctl.handle, nextId++, 'many-async', PUT_LIMIT_MS),
    soakConsumer(unbounded, ctl.handle, 'many-async'),
    (async () => {
      const last = new Map<number, number>();
      for await (const item of joinable) {
        soakNote(ctl, item, last);
        joinable.taskDone();
      }
    })(),
  ];
  const hereSettled = Promise.allSettled(here);

  try {
    const end = performance.now() + SECONDS * 1000;
    let delivered = 0;
    let lastProgress = performance.now();
    const rss0 = process.memoryUsage().rss;
    let maxWaiterThreads = 0;
    while (performance.now() < end) {
      await sleep(250);
      for (const x of all) assert.equal(x.p.exitCode, null, `${x.what} ended early (exit ${x.p.exitCode})`);
      maxWaiterThreads = Math.max(maxWaiterThreads, native!.stats().waiterThreads);
      const now = ctl.get(W_DELIVERED);
      if (now !== delivered) {
        delivered = now;
        lastProgress = performance.now();
      }
      assert.ok(performance.now() - lastProgress < STALL_MS, `no delivery for ${STALL_MS} ms: a stall`);
      if (ctl.get(W_ISSUED) >= BUDGET) break;
    }

    ctl.set(W_STOP_PRODUCERS, 1);
    for (const x of producers) {
      await x.p.join(JOIN_MS);
      assert.equal(x.p.exitCode, 0, `${x.what} did not end well`);
    }
    joinable.shutdown();
    assert.equal(await joinable.join({ timeout: JOIN_MS }), true, 'join() on the joinable queue');
    ctl.set(W_STOP_CONSUMERS, 1);
    for (const x of consumers) {
      await x.p.join(JOIN_MS);
      assert.equal(x.p.exitCode, 0, `${x.what} did not end well`);
    }
    const settled = await hereSettled;
    assert.deepEqual(
      settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason)),
      [],
      'the peers in this thread',
    );

    const issued = Math.min(ctl.get(W_ISSUED), BUDGET);
    const missing = ctl.unmarked(issued);
    const summary = {
      seconds: SECONDS,
      issued,
      delivered: ctl.get(W_DELIVERED),
      perSecond: Math.round(ctl.get(W_DELIVERED) / SECONDS),
      missing: missing.length,
      duplicates: ctl.get(W_DUPLICATES),
      disorder: ctl.get(W_DISORDER),
      corrupt: ctl.get(W_CORRUPT),
      ringBytes: Object.values(queues).map((q) => q._engine.i32[CAP]),
      rssGrowthMiB: Math.round((process.memoryUsage().rss - rss0) / 2 ** 20),
      maxWaiterThreads,
    };
    t.diagnostic(JSON.stringify(summary));
    console.log(`# soak ${JSON.stringify(summary)}`);
    assert.equal(summary.corrupt, 0, 'corrupt items (see stderr)');
    assert.equal(summary.duplicates, 0, 'items delivered twice');
    assert.equal(summary.disorder, 0, "items out of their producer's order");
    assert.deepEqual(missing.slice(0, 20), [], 'items never delivered');
    assert.equal(summary.delivered, issued);
    assert.ok(issued > 0);
    for (const [name, q] of Object.entries(queues)) {
      const i32 = q._engine.i32;
      assert.deepEqual(
        {
          qsize: q.qsize(),
          bytesLeft: (i32[TAIL]! - i32[HEAD]!) | 0,
          locks: [q._engine.ring.producerLock.owner(), q._engine.ring.consumerLock.owner()],
          journals: [i32[P_INTENT_TAIL], i32[C_INTENT_HEAD]],
        },
        { qsize: 0, bytesLeft: 0, locks: [0, 0], journals: [-1, -1] },
        `${name} at rest`,
      );
    }
    assert.throws(() => joinable.getNowait(), ShutDown);
    assert.equal(native!.stats().pendingWaits, 0, 'async waits left pending in this thread');
  } finally {
    ctl.set(W_STOP_PRODUCERS, 1);
    ctl.set(W_STOP_CONSUMERS, 1);
    if (!joinable.isShutDown) joinable.shutdown({ immediate: true });
    const left = activeChildren();
    for (const p of left) p.kill();
    await Promise.all(left.map((p) => p.join(JOIN_MS)));
    await hereSettled;
  }
});
