/**
 * Large items (64 KiB and up) through the byte paths: whole and in order across processes at sizes around the
 * ring's and the blocks' boundaries; a ring that large items keep draining stays grown while they come and gives
 * its memory back after (no commit and punch per item); a process that takes large items reuses its memory for
 * each one instead of faulting in fresh pages (src/memory/allocator.ts). Real processes and shared memory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadNative } from '../src/native/index.js';
import { Process } from '../src/process/index.js';
import { Queue } from '../src/queue/queue.js';
import { isLargeItem, largeItem } from './fixtures/large-targets.js';

const noNative =
  loadNative() === null ? 'the native addon is not built: no process can share a queue' : false;
const TARGETS = new URL('./fixtures/large-targets.js', import.meta.url);
const KiB = 1 << 10;
const MiB = 1 << 20;

/** Bytes of /dev/shm the queue's ring and blocks hold. */
function shmBytes(q: Queue<any>): number {
  const name = (q._engine.seg as unknown as { name: string }).name.slice(1);
  let bytes = 0;
  for (const f of readdirSync('/dev/shm')) {
    if (f !== name && !f.startsWith(`${name}-`)) continue;
    try {
      bytes += statSync(`/dev/shm/${f}`).blocks * 512;
    } catch {
      // removed meanwhile
    }
  }
  return bytes;
}

/** Sizes at and around each of `bases` (a frame header is 8 bytes, frames are 8-aligned). */
function around(bases: number[]): number[] {
  const out: number[] = [];
  for (const b of bases) for (const d of [-17, -9, -8, -1, 0, 1, 7, 8, 9]) if (b + d > 0) out.push(b + d);
  return out;
}

/** A child puts items of `sizes` into `q`; this process takes them and checks each one; the child ends cleanly. */
async function throughAChild(q: Queue<Buffer | null>, sizes: number[]): Promise<void> {
  const producer = new Process({ target: 'putSizes', module: TARGETS, args: [q, sizes] });
  producer.start();
  const wrong = await takeSizes(q, sizes);
  await producer.join();
  assert.equal(producer.exitCode, 0);
  assert.deepEqual(wrong, []);
}

/** Takes items until `null` with each get form in turn; returns the sizes that were wrong or out of order. */
async function takeSizes(q: Queue<Buffer | null>, sizes: number[]): Promise<string[]> {
  const wrong: string[] = [];
  let i = 0;
  for (let k = 0; ; k++) {
    const got =
      k % 3 === 0
        ? [q.getSync({ timeout: 120_000 })]
        : k % 3 === 1
          ? [await q.get({ timeout: 120_000 })]
          : await q.getMany(2, { timeout: 120_000 });
    for (const b of got) {
      if (b === null) {
        if (i !== sizes.length) wrong.push(`null after ${i} of ${sizes.length} items`);
        return wrong;
      }
      if (!isLargeItem(b, i, sizes[i] ?? -1))
        wrong.push(`item ${i} (${sizes[i]} bytes): got ${b.length} bytes`);
      i++;
    }
  }
}

describe('large items', { skip: noNative }, () => {
  test('sizes around the ring and block boundaries arrive whole, in order, each its own Buffer, from another process', {
    timeout: 300_000,
  }, async () => {
    // Real sizes: a 64 KiB ring that grows to 16 MiB, 16 MiB blocks, items that need a block of their own.
    const sizes = around([64 * KiB, 128 * KiB, MiB, 4 * MiB, 16 * MiB - 64, 16 * MiB]);
    sizes.push(...around([64 * KiB, MiB]), ...Array.from({ length: 40 }, (_, k) => MiB + k * 4099));
    const q = new Queue<Buffer | null>();
    await throughAChild(q, sizes);
  });

  test('a small ring and small blocks: large items through every ring -> block -> ring transition, in order', {
    timeout: 300_000,
  }, async () => {
    process.env.PROCQ_TEST_BLOCK_BYTES = String(256 * KiB); // inherited by the producer started below
    process.env.PROCQ_TEST_RING_MAX = String(128 * KiB);
    let q: Queue<Buffer | null>;
    try {
      q = new Queue<Buffer | null>(0, { capacityBytes: 64 });
    } finally {
      delete process.env.PROCQ_TEST_RING_MAX;
    }
    try {
      const sizes: number[] = [];
      for (let k = 0; k < 12; k++) sizes.push(...around([32 * KiB, 64 * KiB, 128 * KiB, 256 * KiB]));
      await throughAChild(q, sizes);
    } finally {
      delete process.env.PROCQ_TEST_BLOCK_BYTES;
    }
  });

  test('1 MiB items from another process while this one takes them: whole and in order through a ring that follows the consumer instead of growing', {
    timeout: 300_000,
  }, async () => {
    const q = new Queue<Buffer | null>();
    const sizes: number[] = [];
    for (let k = 0; k < 40; k++) sizes.push(MiB + ((k * 8 + (k % 3)) % 64) - 32, 300 * KiB + k);
    await throughAChild(q, sizes);
    // A ring holding PACE_FRAMES such items (4 MiB) is enough for the two sides to overlap: measured, it stays
    // there while a consumer keeps taking (16 MiB before). Not asserted: a consumer descheduled for a few
    // milliseconds lets the producer grow the ring, as it should.
  });

  test('1 MiB items put with nobody taking: puts still run ahead (the ring grows after a short wait, then blocks), every item intact', {
    timeout: 120_000,
  }, async () => {
    const q = new Queue<Buffer | null>();
    const n = 24; // 24 MiB: past the largest ring (16 MiB), into overflow blocks
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) q.putSync(largeItem(i, MiB + i * 8), { timeout: 60_000 });
      else await q.put(largeItem(i, MiB + i * 8));
    }
    assert.equal(q.qsize(), n);
    assert.ok(shmBytes(q) >= n * MiB, `${shmBytes(q)} bytes of shared memory hold ${n} MiB`);
    for (let i = 0; i < n; i++) {
      const b = i % 2 === 0 ? q.getSync() : await q.get();
      assert.ok(isLargeItem(b, i, MiB + i * 8), `item ${i}`);
    }
    assert.equal(q.qsize(), 0);
  });

  test('getInto: items from another process land in the memory given, as views of it; longer items and non-bytes come as get returns them', {
    timeout: 300_000,
  }, async () => {
    const q = new Queue<Buffer | null>();
    const sizes = [MiB, MiB - 1, 300 * KiB, MiB + 1, 2 * MiB, 8, 0, MiB, 64 * KiB + 3, MiB];
    const producer = new Process({ target: 'putSizes', module: TARGETS, args: [q, sizes] });
    producer.start();
    const backing = new ArrayBuffer(MiB + 16);
    const into = Buffer.from(backing, 16, MiB); // not at offset 0 of its ArrayBuffer
    const wrong: string[] = [];
    for (let i = 0; i < sizes.length; i++) {
      const size = sizes[i]!;
      const b = (i % 2 === 0 ? q.getIntoSync(into, { timeout: 120_000 }) : await q.getInto(into)) as Buffer;
      if (size <= MiB) {
        if (!Buffer.isBuffer(b) || b.buffer !== backing || b.byteOffset !== 16 || b.length !== size)
          wrong.push(`item ${i} (${size} bytes): not a view of the memory given`);
        else if (!b.equals(largeItem(i, size))) wrong.push(`item ${i} (${size} bytes): wrong bytes`);
      } else if (!isLargeItem(b, i, size)) {
        wrong.push(`item ${i} (${size} bytes): not its own Buffer with its bytes`);
      }
    }
    assert.equal(await q.getInto(into), null); // not a byte array: as get returns it
    await producer.join();
    assert.equal(producer.exitCode, 0);
    assert.deepEqual(wrong, []);
  });

  test('getInto: a Uint8Array comes back as a Uint8Array view, other items as they are; a bad `into` is a TypeError and takes nothing', async () => {
    const q = new Queue<unknown>();
    const into = new Uint8Array(100).fill(9);
    q.putSync(Uint8Array.of(1, 2, 3));
    q.putSync('text');
    q.putSync({ a: Uint8Array.of(4) });
    for (const bad of [undefined, null, [1, 2], new ArrayBuffer(8), new Uint16Array(4), 'x'])
      assert.throws(() => q.getIntoSync(bad as unknown as Uint8Array), TypeError);
    await assert.rejects(q.getInto({} as Uint8Array), TypeError);
    assert.equal(q.qsize(), 3);
    const first = q.getIntoSync(into);
    assert.ok(first instanceof Uint8Array && !Buffer.isBuffer(first) && first.buffer === into.buffer);
    assert.deepEqual([...(first as Uint8Array)], [1, 2, 3]);
    assert.equal(into[3], 9, 'bytes past the item are left as they were');
    assert.equal(await q.getInto(into), 'text');
    assert.deepEqual(q.getIntoSync(into), { a: Uint8Array.of(4) });
    assert.throws(() => q.getIntoSync(into, { block: false }), { name: 'Empty' });
  });

  test('a ring that large items keep draining stays grown while they come, and gives its memory back after', {
    timeout: 60_000,
  }, async () => {
    const q = new Queue<Buffer>();
    const fresh = shmBytes(q);
    const item = Buffer.alloc(256 * KiB, 5);
    q.putSync(item);
    q.getSync();
    const grown = shmBytes(q);
    assert.ok(grown >= fresh + 256 * KiB, `grown to ${grown} bytes (fresh: ${fresh})`);
    // Half a second of items, each taken before the next is put: the ring is empty between them, for longer in
    // all than a drained ring waits before shrinking. It must not shrink (and grow back) in the middle.
    const until = performance.now() + 500;
    let shrank = 0;
    let samples = 0;
    while (performance.now() < until) {
      const t = performance.now();
      q.putSync(item);
      assert.equal((q.getSync() as Buffer).length, item.length);
      await new Promise((r) => setTimeout(r, 5)); // timers run: the shrink's retry may fire
      if (performance.now() - t > 100) continue; // this process was descheduled too long to tell
      samples++;
      if (shmBytes(q) < grown) shrank++;
    }
    assert.ok(samples > 10, `only ${samples} samples`);
    assert.equal(shrank, 0, `the ring shrank between items ${shrank} times of ${samples}`);
    // Once they stop, it shrinks.
    let left = shmBytes(q);
    for (let t = 0; t < 100 && left > fresh + 64 * KiB; t++) {
      await new Promise((r) => setTimeout(r, 20));
      left = shmBytes(q);
    }
    assert.ok(left <= fresh + 64 * KiB, `drained: ${left} bytes still used (fresh: ${fresh})`);
  });
});

/**
 * Runs a process that puts and takes 1 MiB items (300 to reach its steady state, then 300 counted; a few kept
 * alive, as a consumer holds what it works on); returns its minor page faults per take.
 */
function faultsPerTake(env: NodeJS.ProcessEnv): number {
  return takeOneMiBItems(env).faults;
}

/** As faultsPerTake; also the process's anonymous memory in transparent huge pages at the end (kB). */
function takeOneMiBItems(env: NodeJS.ProcessEnv): { faults: number; hugeKb: number } {
  const queue = fileURLToPath(new URL('../src/queue/queue.js', import.meta.url));
  const code = `
    const { Queue } = await import(${JSON.stringify(queue)});
    const q = new Queue();
    const src = Buffer.alloc(${MiB}, 3);
    const keep = [];
    for (let i = 0; i < 300; i++) { q.putSync(src); keep.push(q.getSync()); if (keep.length > 4) keep.shift(); }
    const before = process.resourceUsage().minorPageFault;
    for (let i = 0; i < 300; i++) { q.putSync(src); keep.push(q.getSync()); if (keep.length > 4) keep.shift(); }
    const faults = (process.resourceUsage().minorPageFault - before) / 300;
    const { readFileSync } = await import('node:fs');
    const huge = /AnonHugePages: +([0-9]+)/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
    console.log(JSON.stringify({ faults, hugeKb: Number(huge?.[1] ?? 0) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { faults: number; hugeKb: number };
}

/** The kernel's transparent huge page mode (`always`, `madvise`, `never`), or null where it cannot be read. */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
  ?.glibcVersionRuntime;

describe('memory for large items', { skip: noNative || (glibc ? false : 'not glibc') }, () => {
  test('taking 1 MiB items reuses memory: far fewer page faults per take than the 256 pages of a fresh MiB', {
    timeout: 240_000,
  }, () => {
    const tuned = faultsPerTake({});
    const untuned = faultsPerTake({ PROCQ_KEEP_HEAP: '0' });
    // Measured here: 1.2 faults per take, and 28.6 with glibc's defaults (fresh pages for most takes).
    assert.ok(tuned < 8, `${tuned} faults per 1 MiB take (glibc defaults: ${untuned})`);
  });

  test('a process that moves 1 MiB items asks for huge pages for its heap (transparent_hugepage madvise); PROCQ_HUGE_HEAP=0 does not', {
    timeout: 240_000,
    skip: thpMode() === 'madvise' ? false : `transparent huge pages are '${thpMode()}' here, not 'madvise'`,
  }, () => {
    const advised = takeOneMiBItems({});
    const plain = takeOneMiBItems({ PROCQ_HUGE_HEAP: '0' });
    // Measured here: 30-60 MiB of the heap in huge pages, and none without the advice (in 'madvise' mode nothing
    // else asks for them). A kernel short of free 2 MiB pages falls back to 4 KiB ones: then this fails.
    assert.equal(plain.hugeKb, 0, `${plain.hugeKb} kB in huge pages without the advice`);
    assert.ok(
      advised.hugeKb >= 4096,
      `${advised.hugeKb} kB in huge pages (faults per take: ${advised.faults})`,
    );
  });
});
