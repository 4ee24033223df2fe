/**
 * Memory hardening of the shared-memory queue: what a received item owns, what `qsize()` may say while peers move
 * the counters.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { describe, test } from 'node:test';

import { loadNative } from '../src/native/index.js';
import { Process } from '../src/process/index.js';
import { Queue } from '../src/queue/queue.js';

const noNative =
  loadNative() === null ? 'the native addon is not built: no process can share a queue' : false;
const TARGETS = new URL('./fixtures/memory-targets.js', import.meta.url);

/** Asserts `v` owns exactly its bytes: offset 0, and its buffer is no larger than the view. */
function ownsItsBytes(v: ArrayBufferView, what: string): void {
  assert.equal(v.byteOffset, 0, `${what}: byteOffset`);
  assert.equal(v.buffer.byteLength, v.byteLength, `${what}: .buffer holds other bytes too`);
}

describe('received typed arrays and Buffers own exactly their bytes', () => {
  test('fast-path Buffer and Uint8Array, structured typed arrays and DataView, a custom codec', () => {
    const secret = Buffer.from('SECRET-TOKEN-123'); // pooled: lives in Node's shared Buffer pool
    const q = new Queue();
    q.putSync(Buffer.from('abc'));
    q.putSync(new Uint8Array([1, 2, 3]));
    q.putSync(new Float64Array([1.5, 2.5]));
    q.putSync({ f: new Float32Array([1]), b: Buffer.from('xy'), d: new DataView(new ArrayBuffer(4)) });
    q.putSync([new Int16Array([7, -7]), new BigInt64Array([5n])]);

    const buf = q.getSync() as Buffer;
    assert.ok(Buffer.isBuffer(buf));
    ownsItsBytes(buf, 'Buffer');
    assert.equal(buf.toString(), 'abc');
    const u8 = q.getSync() as Uint8Array;
    assert.equal(u8.constructor, Uint8Array);
    ownsItsBytes(u8, 'Uint8Array');
    const f64 = q.getSync() as Float64Array;
    ownsItsBytes(f64, 'Float64Array');
    assert.deepEqual([...new Float64Array(f64.buffer)], [1.5, 2.5], 'new Float64Array(v.buffer) is the item');
    const o = q.getSync() as { f: Float32Array; b: Buffer; d: DataView };
    ownsItsBytes(o.f, 'nested Float32Array');
    ownsItsBytes(o.b, 'nested Buffer');
    ownsItsBytes(o.d, 'nested DataView');
    assert.ok(Buffer.isBuffer(o.b) && o.b.toString() === 'xy');
    assert.ok(o.d instanceof DataView);
    assert.equal(Buffer.from(o.f.buffer).includes('SECRET-TOKEN-123'), false);
    const [i16, big] = q.getSync() as [Int16Array, BigInt64Array];
    ownsItsBytes(i16, 'Int16Array');
    ownsItsBytes(big, 'BigInt64Array');
    assert.deepEqual([...i16], [7, -7]);
    assert.deepEqual([...big], [5n]);

    const raw = new Queue<Uint8Array>(0, { codec: { encode: (b: Uint8Array) => b, decode: (b) => b } });
    raw.putSync(Buffer.from('codec bytes'));
    ownsItsBytes(raw.getSync(), 'bytes given to a custom codec');
    assert.ok(secret.length > 0);
  });
});

describe('qsize() is a consistent snapshot', () => {
  test('never negative and never above maxsize while a producer and a consumer process race', {
    skip: noNative,
    timeout: 60_000,
  }, async () => {
    const q = new Queue<number>(1);
    const n = 20_000;
    const ps = [
      new Process({ target: 'produce', module: TARGETS, args: [q, n] }),
      new Process({ target: 'consume', module: TARGETS, args: [q, n] }),
    ];
    for (const p of ps) p.start();
    let reads = 0;
    let bad = 0;
    const done = Promise.all(ps.map((p) => p.join()));
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    while (!finished) {
      for (let i = 0; i < 20_000; i++) {
        const s = q.qsize();
        reads++;
        if (s < 0 || s > 1) bad++;
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(
      ps.map((p) => p.exitCode),
      [0, 0],
    );
    assert.equal(bad, 0, `${bad} of ${reads} qsize() reads were below 0 or above maxsize`);
    assert.ok(reads > 1000, `only ${reads} reads`);
  });
});

describe('memory follows the backlog', () => {
  test('a drained queue gives the memory of its peak back to /dev/shm, and grows again when it must', {
    skip: noNative,
  }, async () => {
    const q = new Queue<unknown>();
    const name = (q._engine.seg as unknown as { name: string }).name;
    // The ring and the overflow blocks chained to it (named after it).
    const used = () =>
      readdirSync('/dev/shm')
        .filter((f) => `/${f}` === name || f.startsWith(`${name.slice(1)}-`))
        .reduce((sum, f) => sum + statSync(`/dev/shm/${f}`).blocks * 512, 0);
    const fresh = used();
    for (let i = 0; i < 8; i++) q.putSync(Buffer.alloc(4 << 20, i));
    assert.ok(used() >= 32 << 20, `8 x 4 MiB queued use ${used()} bytes`);
    for (let i = 0; i < 8; i++) assert.equal((q.getSync() as Buffer)[5], i);
    let left = used();
    for (let t = 0; t < 100 && left > fresh + (64 << 10); t++) {
      await new Promise((r) => setTimeout(r, 20));
      left = used();
    }
    assert.ok(left <= fresh + (64 << 10), `drained: ${left} bytes still used (fresh: ${fresh})`);
    // It grows again, whole.
    const big = Buffer.alloc(6 << 20, 7);
    big[big.length - 1] = 9;
    q.putSync(big);
    q.putSync('after');
    assert.deepEqual(q.getSync(), big);
    assert.equal(q.getSync(), 'after');
  });
});
