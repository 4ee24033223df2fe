/**
 * The unbounded queue: items the ring has no room for go to overflow blocks chained to it, released as consumers
 * drain them (src/ring/blocks.ts, layout.ts). Real processes and real shared memory throughout.
 *
 * Most cases use a tiny ring and tiny blocks (PROCQ_TEST_RING_MAX, PROCQ_TEST_BLOCK_BYTES: internal knobs for
 * tests) so that every transition (ring -> block -> block -> ring) happens many times; the large cases use the
 * real sizes (a 1 GiB ring, 16 MiB blocks).
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { TimeoutError } from '../src/errors.js';
import { loadNative } from '../src/native/index.js';
import { Process } from '../src/process/index.js';
import { Queue } from '../src/queue/queue.js';
import { check, item } from './fixtures/chain-targets.js';

const noNative =
  loadNative() === null ? 'the native addon is not built: no process can share a queue' : false;
const TARGETS = new URL('./fixtures/chain-targets.js', import.meta.url);

/** The /dev/shm files of `q` (its ring and its blocks) and the bytes they hold. */
function shmOf(q: Queue<any>): { files: string[]; bytes: number } {
  const name = (q._engine.seg as unknown as { name: string }).name.slice(1);
  const files = readdirSync('/dev/shm').filter((f) => f === name || f.startsWith(`${name}-`));
  let bytes = 0;
  for (const f of files) {
    try {
      bytes += statSync(`/dev/shm/${f}`).blocks * 512;
    } catch {
      // removed meanwhile
    }
  }
  return { files, bytes };
}

/** A queue with a ring of at most `ringMax` bytes whose producers make blocks of `blockBytes`. */
function smallQueue<T>(ringMax: number, blockBytes: number): Queue<T> {
  process.env.PROCQ_TEST_BLOCK_BYTES = String(blockBytes); // inherited by the children started after
  process.env.PROCQ_TEST_RING_MAX = String(ringMax);
  try {
    return new Queue<T>(0, { capacityBytes: 64 });
  } finally {
    delete process.env.PROCQ_TEST_RING_MAX;
  }
}

async function settle(q: Queue<any>, want: number): Promise<{ files: string[]; bytes: number }> {
  let now = shmOf(q);
  for (let t = 0; t < 100 && (now.files.length > 1 || now.bytes > want); t++) {
    await new Promise((r) => setTimeout(r, 20));
    now = shmOf(q);
  }
  return now;
}

function freeShm(): number {
  const s = statfsSync('/dev/shm');
  return s.bavail * s.bsize;
}

describe('an unbounded queue is bounded only by /dev/shm', { skip: noNative }, () => {
  test('1,100 x 1 MiB putNowait into Queue(), all got back in order in another process; memory back to initial after', {
    timeout: 600_000,
  }, async (t) => {
    if (freeShm() < 2.5 * 2 ** 30) return t.skip(`/dev/shm has ${freeShm()} bytes free: 2.5 GiB needed`);
    const q = new Queue<Buffer>();
    const fresh = shmOf(q).bytes;
    const n = 1100;
    for (let i = 0; i < n; i++) {
      const b = Buffer.alloc(1 << 20, i & 0xff);
      b.writeUInt32LE(i, 0);
      q.putNowait(b); // past the 1 GiB ring: blocks, never Full
    }
    assert.equal(q.qsize(), n);
    const held = shmOf(q);
    assert.ok(held.files.length > 1, 'the items past the ring are in blocks');
    assert.ok(held.bytes >= n * 2 ** 20, `${held.bytes} bytes held for ${n} MiB`);
    const consumer = new Process({ target: 'getMiBs', module: TARGETS, args: [q, n] });
    consumer.start();
    await consumer.join();
    assert.equal(consumer.exitCode, 0);
    assert.equal(q.qsize(), 0);
    // The consumer gave the blocks back as it left them, and the drained ring shrinks (in this process, after a get).
    q.putSync(Buffer.alloc(1));
    q.getSync();
    const after = await settle(q, fresh + (64 << 10));
    assert.deepEqual(after.files.length, 1, `files left: ${after.files.join(' ')}`);
    assert.ok(after.bytes <= fresh + (64 << 10), `drained: ${after.bytes} bytes (fresh: ${fresh})`);
  });

  test('a 600 MiB item and a 1 GiB+ item go through an empty queue (blocks of their own), memory back after', {
    timeout: 600_000,
  }, async (t) => {
    if (freeShm() < 4 * 2 ** 30) return t.skip(`/dev/shm has ${freeShm()} bytes free: 4 GiB needed`);
    const q = new Queue<Buffer>();
    const fresh = shmOf(q).bytes;
    for (const size of [600 * 2 ** 20, 2 ** 30 + 8]) {
      const big = Buffer.alloc(size, 1);
      big[0] = 2;
      big[size - 1] = 3;
      q.putSync('before' as any);
      q.putSync(big, { timeout: 60_000 });
      q.putSync('after' as any);
      assert.equal(q.getSync(), 'before');
      const got = q.getSync();
      assert.equal(got.length, size);
      assert.ok(got[0] === 2 && got[size - 1] === 3 && got[size >> 1] === 1, 'the item comes back whole');
      assert.equal(q.getSync(), 'after');
    }
    const after = await settle(q, fresh + (64 << 10));
    assert.equal(after.files.length, 1, `files left: ${after.files.join(' ')}`);
    assert.ok(after.bytes <= fresh + (64 << 10), `drained: ${after.bytes} bytes (fresh: ${fresh})`);
  });

  test('order across ring -> block -> ring transitions, 3 producers and 2 consumers (processes)', {
    timeout: 300_000,
  }, async () => {
    const q = smallQueue<Buffer | null>(4096, 8192);
    const out = new Queue<number[]>();
    const perProducer = 1500;
    const producers = [0, 1, 2].map(
      (p) => new Process({ target: 'produce', module: TARGETS, args: [q, p, perProducer] }),
    );
    const consumers = [0, 1].map((_) => new Process({ target: 'consume', module: TARGETS, args: [q, out] }));
    for (const c of consumers) c.start();
    for (const p of producers) p.start();
    for (const p of producers) await p.join();
    for (const p of producers) assert.equal(p.exitCode, 0);
    q.putSync(null);
    q.putSync(null);
    const seen = new Set<number>();
    let errors = 0;
    for (const _ of consumers) {
      const [count, errs, ...ids] = await out.get({ timeout: 120_000 });
      assert.equal(ids.length, count);
      errors += errs!;
      for (const id of ids) {
        assert.ok(!seen.has(id), `item ${id} seen twice`);
        seen.add(id);
      }
    }
    for (const c of consumers) await c.join();
    assert.equal(errors, 0, 'torn items or a producer out of order');
    assert.equal(seen.size, 3 * perProducer, 'every item, once');
    const after = await settle(q, 1 << 20);
    assert.equal(after.files.length, 1, `blocks left after the drain: ${after.files.join(' ')}`);
  });

  test('qsize() counts items wherever they live', () => {
    const q = smallQueue<Buffer>(1024, 4096);
    for (let i = 0; i < 200; i++) q.putNowait(item(0, i, 100));
    assert.equal(q.qsize(), 200);
    assert.ok(shmOf(q).files.length > 2, 'several blocks');
    for (let i = 0; i < 200; i++) assert.deepEqual(check(q.getNowait()), [0, i]);
    assert.equal(q.qsize(), 0);
  });
});

describe('SIGKILL at the chain steps: nothing torn, duplicated or lost beyond the documented item, no block leaked', {
  skip: noNative,
}, () => {
  for (const point of ['create', 'link'] as const) {
    test(`a producer killed at "${point}"`, { timeout: 60_000 }, async () => {
      const q = smallQueue<Buffer>(1024, 4096);
      // The ring is full of small items: the next put must chain a block.
      let n = 0;
      while (shmOf(q).files.length === 1) q.putNowait(item(0, n++, 40));
      // now in a block: fill it so that the killed put needs a new one
      const before = shmOf(q).files.length;
      while (shmOf(q).files.length === before) q.putNowait(item(0, n++, 400));
      const ctl = new Queue<string>();
      const p = new Process({ target: 'stopAt', module: TARGETS, args: [q, ctl, point, item(9, 0, 9000)] });
      p.start();
      assert.equal(await ctl.get({ timeout: 30_000 }), 'ready');
      p.kill();
      await p.join();
      // The next put recovers the lock, removes the unlinked block, and goes on.
      q.putSync(item(0, n++, 9000), { timeout: 10_000 });
      for (let i = 0; i < n; i++) assert.deepEqual(check(q.getSync({ timeout: 10_000 })), [0, i]);
      assert.equal(q.qsize(), 0, 'the killed put published nothing');
      const after = await settle(q, 1 << 20);
      assert.equal(after.files.length, 1, `blocks left: ${after.files.join(' ')}`);
    });
  }

  test('a consumer killed at "unlink" (its take committed, the finished block not yet removed)', {
    timeout: 60_000,
  }, async () => {
    const q = smallQueue<Buffer>(1024, 4096);
    let n = 0;
    while (shmOf(q).files.length < 4) q.putNowait(item(0, n++, 300));
    const ctl = new Queue<string>();
    const p = new Process({ target: 'stopAt', module: TARGETS, args: [q, ctl, 'unlink', null] });
    p.start();
    assert.equal(await ctl.get({ timeout: 30_000 }), 'ready');
    const left = q.qsize();
    p.kill();
    await p.join();
    // The killed consumer's items were taken (committed): the rest come in order, none twice, none torn.
    let expect = n - left;
    while (q.qsize() > 0) assert.deepEqual(check(q.getSync({ timeout: 10_000 })), [0, expect++]);
    assert.equal(expect, n);
    q.putSync(item(0, n, 10));
    assert.deepEqual(check(q.getSync()), [0, n]);
    const after = await settle(q, 1 << 20);
    assert.equal(after.files.length, 1, `blocks left: ${after.files.join(' ')}`);
  });
});

describe('a full /dev/shm', { skip: noNative }, () => {
  test('a put that needs a block /dev/shm has no room for fails with SharedMemoryFull naming the size; the queue stays usable', {
    timeout: 120_000,
  }, (t) => {
    // A private mount namespace whose /dev/shm is a 32 MiB tmpfs, and a program that fills it through a queue.
    const program = join(tmpdir(), `procq-chain-full-${process.pid}.mjs`);
    const index = fileURLToPath(new URL('../src/index.js', import.meta.url));
    writeFileSync(
      program,
      `import { Queue, SharedMemoryFull } from ${JSON.stringify(index)};
const q = new Queue();
let n = 0, err;
try { for (;;) { const b = Buffer.alloc(1 << 20, n & 255); b.writeUInt32LE(n, 0); q.putNowait(b); n++; } }
catch (e) { err = e; }
const out = { n, name: err?.name, isFull: err instanceof SharedMemoryFull, size: err?.size, message: err?.message, qsize: q.qsize() };
let ok = 0;
for (let i = 0; i < n; i++) { const b = q.getNowait(); if (b.readUInt32LE(0) === i && b[b.length - 1] === (i & 255)) ok++; }
out.ok = ok;
q.putNowait('again'); out.again = q.getNowait();
console.log(JSON.stringify(out));
`,
    );
    let r: SpawnSyncReturns<string>;
    try {
      r = spawnSync(
        'unshare',
        [
          '-m',
          'sh',
          '-c',
          `mount -t tmpfs -o size=32m tmpfs /dev/shm && exec "${process.execPath}" "${program}"`,
        ],
        { encoding: 'utf8', timeout: 100_000, env: { ...process.env, PROCQ_TEST_RING_MAX: String(1 << 20) } },
      );
    } finally {
      rmSync(program, { force: true });
    }
    if (r.status !== 0 && /unshare|mount|Operation not permitted|permission/i.test(r.stderr)) {
      return t.skip(`cannot mount a small tmpfs over /dev/shm here: ${r.stderr.trim().split('\n')[0]}`);
    }
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.isFull, true, `${out.name}: ${out.message}`);
    assert.equal(out.name, 'SharedMemoryFull');
    assert.ok(out.size >= 1 << 20, `size asked for: ${out.size}`);
    assert.match(out.message, new RegExp(`${out.size} bytes`));
    assert.ok(out.n >= 10 && out.n <= 32, `${out.n} MiB went in`);
    assert.equal(out.qsize, out.n, 'the failed put put nothing');
    assert.equal(out.ok, out.n, 'every item put comes back whole, in order');
    assert.equal(out.again, 'again');
  });
});

describe('shutdown({ immediate: true }) has a deadline', { skip: noNative }, () => {
  test('a live holder of the consumer lock that never lets go: TimeoutError, the queue shut down', {
    timeout: 60_000,
  }, async () => {
    const q = new Queue<number>();
    q.putSync(1);
    const ctl = new Queue<string>();
    const p = new Process({ target: 'holdConsumerLock', module: TARGETS, args: [q, ctl] });
    p.start();
    try {
      assert.equal(await ctl.get({ timeout: 30_000 }), 'ready');
      const t0 = performance.now();
      assert.throws(() => q.shutdown({ immediate: true }), TimeoutError);
      assert.ok(performance.now() - t0 < 10_000, 'within its deadline');
      assert.throws(() => q.putNowait(2), { name: 'ShutDown' });
    } finally {
      p.kill();
      await p.join();
    }
  });
});
