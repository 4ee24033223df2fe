/**
 * Random-kill chaos: producer and consumer processes (and a worker thread of each kind) hammer one bounded and one
 * unbounded queue with self-checking items of varying sizes (some of them large enough to grow the rings, which
 * start small so that frames wrap around often), while the test SIGKILLs random peers at random moments and starts
 * new ones. Then everything is stopped and drained, and the ledger of deliveries (in shared memory, written by
 * every consumer) is checked:
 * - no corrupted item (kind, size and CRC are checked by the consumer), no item delivered twice;
 * - every item whose put returned is delivered, except at most one per killed consumer (the one it had taken);
 * - nothing that was never put appears (a killed producer may have published at most its last call's items);
 * - per producer, each consumer saw its items in order;
 * - both queues end empty and at rest (qsize 0, locks free, no journal left), and nothing hung: every wait in the
 *   children is bounded, the test waits on everything with a timeout, and fails when deliveries stall.
 *
 * Size: PROCQ_CHAOS_SECONDS (default 4 × PROCQ_STRESS seconds of killing; PROCQ_STRESS defaults to 1).
 */

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, test } from 'node:test';
import { loadNative } from '../src/native/index.js';
import { activeChildren, Process, type StartMethod } from '../src/process/index.js';
import { Queue } from '../src/queue/queue.js';
import { C_INTENT_HEAD, CAP, HEAD, P_INTENT_TAIL, TAIL } from '../src/ring/layout.js';
import {
  ACK_BASE,
  Control,
  checkItem,
  MAX_INC,
  OWNER_BASE,
  W_BUDGET,
  W_CORRUPT,
  W_LEDGER,
  W_STOP_CONSUMERS,
  W_STOP_PRODUCERS,
} from './fixtures/chaos-common.js';
import { type ConsumerForm, MAX_BATCH, note, type ProducerForm } from './fixtures/chaos-targets.js';
import { PROCESS_METHOD } from './helpers/util.js';

const skip = loadNative() === null ? 'the native addon is not built: no process can share a queue' : false;
const STRESS = Number(process.env.PROCQ_STRESS ?? 1) || 1;
const SECONDS = Number(process.env.PROCQ_CHAOS_SECONDS ?? 0) || 4 * STRESS;
const TARGETS = new URL('./fixtures/chaos-targets.js', import.meta.url);
const PRODUCER_SLOTS: StartMethod[] = [PROCESS_METHOD, PROCESS_METHOD, PROCESS_METHOD, 'thread'];
const CONSUMER_SLOTS: StartMethod[] = [PROCESS_METHOD, PROCESS_METHOD, PROCESS_METHOD, 'thread'];
const PRODUCER_FORMS: ProducerForm[] = ['sync', 'async', 'nowait', 'many-sync', 'many-async'];
const CONSUMER_FORMS: ConsumerForm[] = ['sync', 'async', 'nowait'];
/** Budget of items (the ledger holds them all). */
const BUDGET = Math.round(200_000 * Math.max(1, SECONDS / 4));
/** Deliveries may pause (respawns on 2 cores are slow) but never this long. */
const STALL_MS = 15_000;
const JOIN_MS = 20_000;
const PARENT_CONSUMER = MAX_INC - 1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const childPids = new Set<number>();

let seed = (Number(process.env.PROCQ_CHAOS_SEED ?? 0) || Date.now()) >>> 0;
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

interface Peer {
  id: number;
  role: 'producer' | 'consumer';
  method: StartMethod;
  form: string;
  queueIndex: number;
  p: Process;
  killed: boolean;
}

after(() => {
  const left = readdirSync('/dev/shm').filter((n) =>
    [...childPids].some((pid) => n.startsWith(`procq-${pid}-`)),
  );
  assert.deepEqual(left, [], 'segments left in /dev/shm by the children');
});

test(`random SIGKILLs of producers and consumers for ${SECONDS} s: nothing torn, duplicated, invented or hung`, {
  skip,
  timeout: SECONDS * 1000 + 180_000,
}, async (t) => {
  const startSeed = seed;
  const ctl = Control.create(BUDGET + 1000);
  ctl.set(W_BUDGET, BUDGET);
  const queues = [new Queue<any>(16, { capacityBytes: 4096 }), new Queue<any>(0, { capacityBytes: 1024 })];
  const peers: Peer[] = [];
  const retired: Peer[] = [];
  let nextId = 0;
  const stats = {
    kills: { producer: 0, consumer: 0 },
    killsHoldingProducerLock: 0,
    killsHoldingConsumerLock: 0,
  };

  const spawnPeer = (role: Peer['role'], method: StartMethod, slot: number): Peer => {
    const id = nextId++;
    assert.ok(id < PARENT_CONSUMER, 'too many peers for the control segment');
    const form = role === 'producer' ? pick(PRODUCER_FORMS) : pick(CONSUMER_FORMS);
    const queueIndex = slot % 2;
    const args =
      role === 'producer'
        ? [queues, ctl.handle, id, form, { backlog: 400, seed: Math.floor(random() * 2 ** 31) }]
        : [queues[queueIndex], ctl.handle, id, queueIndex, form];
    const p = new Process({
      target: role === 'producer' ? 'chaosProducer' : 'chaosConsumer',
      module: TARGETS,
      args,
      startMethod: method,
      daemon: true,
    });
    p.start();
    if (method !== 'thread') childPids.add(p.pid!);
    return { id, role, method, form, queueIndex, p, killed: false };
  };

  try {
    PRODUCER_SLOTS.forEach((m, i) => {
      peers.push(spawnPeer('producer', m, i));
    });
    CONSUMER_SLOTS.forEach((m, i) => {
      peers.push(spawnPeer('consumer', m, i));
    });

    // ------------------------------------------------------------------ kill and respawn at random
    const end = performance.now() + SECONDS * 1000;
    let delivered = ctl.get(W_LEDGER);
    let lastProgress = performance.now();
    while (performance.now() < end) {
      await sleep(40 + random() * 220);
      for (let k = 0; k < peers.length; k++) {
        const peer = peers[k]!;
        if (peer.p.exitCode === null) continue;
        // Ended on its own: only a producer that spent the budget may.
        assert.equal(peer.role, 'producer', `consumer ${peer.id} ended by itself (exit ${peer.p.exitCode})`);
        assert.equal(peer.p.exitCode, 0, `producer ${peer.id} failed (exit ${peer.p.exitCode})`);
      }
      if (ctl.get(W_LEDGER) !== delivered) {
        delivered = ctl.get(W_LEDGER);
        lastProgress = performance.now();
      } else if (queues.some((q) => q.qsize() > 0)) {
        assert.ok(
          performance.now() - lastProgress < STALL_MS,
          `no delivery for ${STALL_MS} ms with ${queues.map((q) => q.qsize())} items queued: a hang`,
        );
      }
      const k = Math.floor(random() * peers.length);
      const victim = peers[k]!;
      if (victim.p.exitCode !== null) continue;
      const owner = ctl.get(OWNER_BASE + victim.id);
      for (const q of queues) {
        if (owner !== 0 && q._engine.ring.producerLock.owner() === owner) stats.killsHoldingProducerLock++;
        if (owner !== 0 && q._engine.ring.consumerLock.owner() === owner) stats.killsHoldingConsumerLock++;
      }
      victim.p.kill();
      await victim.p.join(JOIN_MS);
      assert.notEqual(victim.p.exitCode, null, `peer ${victim.id} did not end after kill()`);
      victim.killed = true;
      stats.kills[victim.role]++;
      retired.push(victim);
      peers[k] = spawnPeer(
        victim.role,
        victim.method,
        victim.role === 'consumer' ? victim.queueIndex : Math.floor(random() * 2),
      );
    }

    // On a loaded machine every peer of a short window can be killed before its first item (each restart boots
    // Node): with the killing over, the survivors must deliver within the stall limit, or it is a hang.
    while (ctl.get(W_LEDGER) === 0 && performance.now() < end + STALL_MS) await sleep(50);

    // ------------------------------------------------------------------ stop, then drain
    ctl.set(W_STOP_PRODUCERS, 1);
    for (const peer of peers.filter((x) => x.role === 'producer')) {
      await peer.p.join(JOIN_MS);
      assert.equal(peer.p.exitCode, 0, `producer ${peer.id} (${peer.form}) did not stop: a hang`);
    }
    ctl.set(W_STOP_CONSUMERS, 1);
    for (const peer of peers.filter((x) => x.role === 'consumer')) {
      await peer.p.join(JOIN_MS);
      assert.equal(peer.p.exitCode, 0, `consumer ${peer.id} (${peer.form}) did not stop: a hang`);
    }
    let drained = 0;
    for (let qi = 0; qi < queues.length; qi++) {
      const q = queues[qi]!;
      while (q.qsize() > 0) {
        note(ctl, checkItem(q.getSync({ timeout: 5000 })), PARENT_CONSUMER, qi);
        drained++;
      }
    }

    // ------------------------------------------------------------------ check the ledger
    const all = [...retired, ...peers];
    const producers = all.filter((x) => x.role === 'producer');
    const ledger = ctl.ledger();
    const seen = new Map<number, number>();
    const lastSeq = new Map<string, number>();
    const problems: string[] = [];
    for (const r of ledger) {
      const key = r.inc * 2 ** 32 + r.seq;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      const order = `${r.consumer}/${r.inc}`;
      const prev = lastSeq.get(order);
      if (prev !== undefined && r.seq <= prev)
        problems.push(`consumer ${r.consumer} got ${r.inc}.${r.seq} after ${r.inc}.${prev}`);
      lastSeq.set(order, r.seq);
    }
    let duplicates = 0;
    for (const [key, n] of seen) {
      if (n > 1) {
        duplicates += n - 1;
        if (problems.length < 20)
          problems.push(`item ${Math.floor(key / 2 ** 32)}.${key % 2 ** 32} delivered ${n} times`);
      }
    }
    let missing = 0;
    let inFlightDelivered = 0;
    const producerIds = new Set(producers.map((x) => x.id));
    for (const peer of producers) {
      const acked = ctl.get(ACK_BASE + peer.id);
      for (let s = 0; s < acked; s++) {
        if (!seen.has(peer.id * 2 ** 32 + s)) {
          missing++;
          if (problems.length < 20 && missing > stats.kills.consumer)
            problems.push(`item ${peer.id}.${s} (acknowledged) never delivered`);
        }
      }
      const limit = acked + (peer.killed ? MAX_BATCH : 0);
      for (let s = acked; s < acked + MAX_BATCH + 1; s++) {
        if (!seen.has(peer.id * 2 ** 32 + s)) continue;
        if (s >= limit) problems.push(`item ${peer.id}.${s} delivered, but its producer put only ${acked}`);
        else inFlightDelivered++;
      }
    }
    for (const key of seen.keys()) {
      if (!producerIds.has(Math.floor(key / 2 ** 32))) problems.push(`an item from no producer: ${key}`);
    }
    const corrupt = ctl.get(W_CORRUPT);
    const ringState = queues.map((q) => {
      const i32 = q._engine.i32;
      return {
        qsize: q.qsize(),
        bytesLeft: (i32[TAIL]! - i32[HEAD]!) | 0,
        producerLock: q._engine.ring.producerLock.owner(),
        consumerLock: q._engine.ring.consumerLock.owner(),
        pIntent: i32[P_INTENT_TAIL],
        cIntent: i32[C_INTENT_HEAD],
      };
    });
    const summary = {
      seed: startSeed,
      seconds: SECONDS,
      peers: all.length,
      ...stats,
      acknowledged: producers.reduce((n, x) => n + ctl.get(ACK_BASE + x.id), 0),
      delivered: ledger.length,
      drainedByTest: drained,
      inFlightDelivered,
      missing,
      duplicates,
      corrupt,
      ringBytes: queues.map((q) => q._engine.i32[CAP]),
    };
    t.diagnostic(JSON.stringify(summary));
    console.log(`# chaos-random ${JSON.stringify(summary)}`);

    assert.equal(corrupt, 0, 'corrupted items (see stderr)');
    assert.ok(ctl.get(W_LEDGER) <= ctl.records, 'the ledger overflowed');
    assert.deepEqual(problems, [], 'deliveries');
    assert.equal(duplicates, 0);
    assert.ok(
      missing <= stats.kills.consumer,
      `${missing} acknowledged items lost with ${stats.kills.consumer} consumers killed`,
    );
    for (const s of ringState) {
      assert.deepEqual(s, {
        qsize: 0,
        bytesLeft: 0,
        producerLock: 0,
        consumerLock: 0,
        pIntent: -1,
        cIntent: -1,
      });
    }
    assert.ok(stats.kills.producer + stats.kills.consumer > 0, 'nothing was killed');
    assert.ok(ledger.length > 0, 'nothing was delivered');
  } finally {
    const left = activeChildren();
    for (const p of left) p.kill();
    await Promise.all(left.map((p) => p.join(JOIN_MS)));
  }
});
