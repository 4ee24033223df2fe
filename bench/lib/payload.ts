/**
 * The items every implementation sends, and the check every consumer applies to each one it receives.
 *
 * - `str`: a 12-byte ASCII string that encodes its sequence number: `msg-` + 8 digits.
 * - `bytes`: a byte array of `size` bytes; its first 4 bytes hold the sequence number (little-endian) and its last
 *   byte the number's low 8 bits. Allocated fresh for each message (unpooled, not zero-filled), as an application
 *   would hand over a new buffer.
 * - `obj`: a small plain object, the shape of a typical job: `{ id, name, tags }`.
 * - `job`: the job object of the `jobs` workload: `{ id, name, tags, prio }`.
 *
 * `python_baseline.py` sends the same items (a `str`, `bytes`, a `dict`).
 */

export type Kind = 'str' | 'bytes' | 'obj' | 'job';

/** Keeps `BASE + i` a small integer (a V8 Smi), whose conversion to a string is cheap. */
const BASE = 10_000_000;

export function makeStr(i: number): string {
  return `msg-${BASE + i}`;
}

export function makeBytes(size: number, i: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  b.writeUInt32LE(i >>> 0, 0);
  b[size - 1] = i & 255;
  return b;
}

export interface Job {
  id: number;
  name: string;
  tags: string[];
}

export function makeObj(i: number): Job {
  return { id: i, name: `job-${i}`, tags: ['alpha', 'beta', 'gamma'] };
}

export interface PrioJob extends Job {
  prio: number;
}

export function makeJob(i: number): PrioJob {
  return { id: i, name: `job-${i}`, tags: ['alpha', 'beta', 'gamma'], prio: i % 10 };
}

/** The nominal size reported for `job` items: `v8.serialize(makeJob(0)).length`. */
export const JOB_SIZE = 63;

/** The nominal size reported for `obj` items: `v8.serialize(makeObj(0)).length`, fixed so lines compare. */
export const OBJ_SIZE = 55;

export function makeItem(kind: Kind, size: number, i: number): unknown {
  if (kind === 'job') return makeJob(i);
  return kind === 'str' ? makeStr(i) : kind === 'bytes' ? makeBytes(size, i) : makeObj(i);
}

/** Throws unless `item` is exactly the `i`-th item of this kind. */
export function checkItem(kind: Kind, size: number, i: number, item: unknown): void {
  if (kind === 'str') {
    if (item !== makeStr(i)) fail(kind, i, item);
  } else if (kind === 'bytes') {
    const b = item as Uint8Array;
    if (
      !(b instanceof Uint8Array) ||
      b.length !== size ||
      (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0 !== i >>> 0 ||
      b[size - 1] !== (i & 255)
    ) {
      fail(kind, i, item);
    }
  } else {
    const o = item as PrioJob;
    if (
      (kind === 'job' && o?.prio !== i % 10) ||
      o === null ||
      typeof o !== 'object' ||
      o.id !== i ||
      o.name !== `job-${i}` ||
      !Array.isArray(o.tags) ||
      o.tags.length !== 3 ||
      o.tags[2] !== 'gamma'
    ) {
      fail(kind, i, item);
    }
  }
}

/** The sequence number an item carries (for multi-producer workloads, where order is per producer). */
export function itemId(kind: Kind, item: unknown): number {
  if (kind === 'str') return Number((item as string).slice(4)) - BASE;
  if (kind === 'bytes') {
    const b = item as Uint8Array;
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  return (item as Job).id;
}

function fail(kind: Kind, i: number, item: unknown): never {
  let shown: string;
  if (item instanceof Uint8Array) shown = `Uint8Array(${item.length}) [${Array.from(item.subarray(0, 4))}]`;
  else shown = JSON.stringify(item)?.slice(0, 80) ?? String(item);
  throw new Error(`wrong item: expected ${kind} #${i}, got ${shown}`);
}

/**
 * Exactly-once bookkeeping for multi-producer workloads: item ids are `producer * perProducer + k`. Each consumer
 * keeps one; the parent merges them and checks that every id came exactly once and each producer's items came in
 * order at each consumer.
 */
export class Tally {
  readonly seen: Uint8Array;
  readonly #last: Int32Array;
  readonly #perProducer: number;
  count = 0;

  constructor(producers: number, perProducer: number) {
    this.seen = new Uint8Array(producers * perProducer);
    this.#last = new Int32Array(producers).fill(-1);
    this.#perProducer = perProducer;
  }

  add(id: number): void {
    if (!(id >= 0 && id < this.seen.length)) throw new Error(`item id ${id} out of range`);
    if (this.seen[id]) throw new Error(`item ${id} delivered twice to one consumer`);
    this.seen[id] = 1;
    const p = Math.floor(id / this.#perProducer);
    const k = id % this.#perProducer;
    if (k <= this.#last[p]!)
      throw new Error(`producer ${p}: item ${k} after item ${this.#last[p]} (FIFO broken)`);
    this.#last[p] = k;
    this.count++;
  }
}

/** Checks that the consumers' `seen` maps together cover every id exactly once. */
export function mergeTallies(seens: Uint8Array[], total: number): void {
  const all = new Uint8Array(total);
  for (const s of seens) {
    if (s.length !== total) throw new Error(`tally of ${s.length} ids, expected ${total}`);
    for (let i = 0; i < total; i++) {
      if (s[i]) {
        if (all[i]) throw new Error(`item ${i} delivered to two consumers`);
        all[i] = 1;
      }
    }
  }
  const missing = all.indexOf(0);
  if (missing >= 0) throw new Error(`item ${missing} never delivered`);
}
