/**
 * The physical limit: a bare single-producer single-consumer byte ring over shared memory, with `Atomics`.
 * No locks, no codec beyond what the payload needs, no handles: the reference for what shared memory can do on
 * this machine. Runs over a `SharedArrayBuffer` between threads (waits with `Atomics.wait`) and over a procq shm
 * segment between processes (waits with the process-shared futex), through the same `Mem` interface.
 *
 * Layout (32-bit words, then data from byte DATA):
 *
 *   word 0  HEAD       consumer's published read position   written by the consumer only
 *   word 1  TAIL       producer's published write position  written by the producer only
 *   word 2  CONS_WAIT  1 while the consumer sleeps (or is about to) on TAIL; set and cleared by the consumer
 *   word 3  PROD_WAIT  1 while the producer sleeps (or is about to) on HEAD; set and cleared by the producer
 *   bytes DATA .. DATA+cap   frames: [len: i32][payload, padded to 4]; len = -1 marks "skip to the start"
 *
 * Positions are free-running unsigned 32-bit byte counters; `pos & (cap - 1)` indexes the data (cap is a power
 * of two). Invariants: 0 <= TAIL - HEAD <= cap; bytes in [HEAD, TAIL) are complete frames.
 *
 * Lost-wake-up guard (both directions alike): the sleeper sets its WAIT flag, then re-reads the other side's
 * position ("has it moved just now?"), then waits on that word with the value it read; the publisher stores its
 * position, then reads the flag and wakes only if it is set. All four operations are sequentially consistent, so
 * either the sleeper sees the new position or the publisher sees the flag. The sleeper clears its own flag on
 * waking, so a waker never clears a flag that belongs to a later sleep.
 *
 * `every` publishes the position after that many frames (1: every frame; 64: lazily) and always before waiting
 * and at `flush()`, so no frame stays invisible while its producer waits or idles. `spin` polls that many times
 * before sleeping.
 */

export interface Mem {
  readonly i32: Int32Array;
  readonly bytes: Buffer;
  wait(index: number, expected: number, timeoutMs: number): unknown;
  notify(index: number, count: number): void;
}

const HEAD = 0;
const TAIL = 1;
const CONS_WAIT = 2;
const PROD_WAIT = 3;
export const DATA = 64;

export function sabMem(sab: SharedArrayBuffer): Mem {
  const i32 = new Int32Array(sab);
  return {
    i32,
    bytes: Buffer.from(sab),
    wait: (index, expected, timeoutMs) => Atomics.wait(i32, index, expected, timeoutMs),
    notify: (index, count) => Atomics.notify(i32, index, count),
  };
}

/** Bytes of shared memory for a ring of at least `minCap` data bytes; returns the power-of-two capacity too. */
export function ringBytes(minCap: number): { cap: number; total: number } {
  let cap = 4096;
  while (cap < minCap) cap *= 2;
  return { cap, total: DATA + cap };
}

const align4 = (n: number) => (n + 3) & ~3;

export class RingProducer {
  readonly #m: Mem;
  readonly #i32: Int32Array;
  readonly #cap: number;
  readonly #every: number;
  readonly #spin: number;
  #tail: number;
  #head: number;
  #pending = 0;

  constructor(m: Mem, cap: number, every: number, spin: number) {
    this.#m = m;
    this.#i32 = m.i32;
    this.#cap = cap;
    this.#every = every;
    this.#spin = spin;
    this.#tail = Atomics.load(m.i32, TAIL) >>> 0;
    this.#head = Atomics.load(m.i32, HEAD) >>> 0;
  }

  /** Reserves a frame of up to `max` payload bytes; returns the payload's byte offset in `m.bytes`. */
  #reserve(max: number): number {
    const cap = this.#cap;
    let need = 4 + align4(max);
    const pos = this.#tail & (cap - 1);
    const skip = cap - pos < need ? cap - pos : 0;
    need += skip;
    if (need > cap) throw new RangeError(`frame of ${max} bytes exceeds the ring (${cap})`);
    if (cap - ((this.#tail - this.#head) >>> 0) < need) this.#waitRoom(need);
    if (skip) {
      this.#i32[(DATA + pos) >> 2] = -1;
      this.#tail = (this.#tail + skip) >>> 0;
      return DATA + 4;
    }
    return DATA + pos + 4;
  }

  #commit(len: number): void {
    this.#i32[(DATA + (this.#tail & (this.#cap - 1))) >> 2] = len;
    this.#tail = (this.#tail + 4 + align4(len)) >>> 0;
    if (++this.#pending >= this.#every) this.flush();
  }

  #waitRoom(need: number): void {
    const i32 = this.#i32;
    const room = () => this.#cap - ((this.#tail - this.#head) >>> 0) >= need;
    this.#head = Atomics.load(i32, HEAD) >>> 0;
    if (room()) return;
    this.flush();
    for (let k = 0; k < this.#spin; k++) {
      this.#head = Atomics.load(i32, HEAD) >>> 0;
      if (room()) return;
    }
    for (;;) {
      Atomics.store(i32, PROD_WAIT, 1);
      const h = Atomics.load(i32, HEAD);
      this.#head = h >>> 0;
      if (!room()) this.#m.wait(HEAD, h, Number.POSITIVE_INFINITY);
      Atomics.store(i32, PROD_WAIT, 0);
      this.#head = Atomics.load(i32, HEAD) >>> 0;
      if (room()) return;
    }
  }

  /** Publishes every written frame, waking the consumer if it sleeps. */
  flush(): void {
    this.#pending = 0;
    Atomics.store(this.#i32, TAIL, this.#tail | 0);
    if (Atomics.load(this.#i32, CONS_WAIT) !== 0) this.#m.notify(TAIL, 1);
  }

  putStr(s: string): void {
    const off = this.#reserve(s.length * 3);
    this.#commit(this.#m.bytes.write(s, off));
  }

  putBytes(b: Uint8Array): void {
    const off = this.#reserve(b.length);
    this.#m.bytes.set(b, off);
    this.#commit(b.length);
  }
}

export class RingConsumer {
  readonly #m: Mem;
  readonly #i32: Int32Array;
  readonly #cap: number;
  readonly #every: number;
  readonly #spin: number;
  #head: number;
  #tail: number;
  #pending = 0;
  /** Payload length of the frame returned by the last `next()`. */
  len = 0;

  constructor(m: Mem, cap: number, every: number, spin: number) {
    this.#m = m;
    this.#i32 = m.i32;
    this.#cap = cap;
    this.#every = every;
    this.#spin = spin;
    this.#head = Atomics.load(m.i32, HEAD) >>> 0;
    this.#tail = Atomics.load(m.i32, TAIL) >>> 0;
  }

  /** Waits for the next frame; returns its payload's byte offset (its length is `len`). Call `release()` after. */
  next(): number {
    for (;;) {
      if (this.#head === this.#tail) this.#waitFrame();
      const pos = this.#head & (this.#cap - 1);
      const len = this.#i32[(DATA + pos) >> 2]!;
      if (len === -1) {
        this.#head = (this.#head + this.#cap - pos) >>> 0;
        continue;
      }
      this.len = len;
      return DATA + pos + 4;
    }
  }

  release(): void {
    this.#head = (this.#head + 4 + align4(this.len)) >>> 0;
    if (++this.#pending >= this.#every) this.flush();
  }

  flush(): void {
    this.#pending = 0;
    Atomics.store(this.#i32, HEAD, this.#head | 0);
    if (Atomics.load(this.#i32, PROD_WAIT) !== 0) this.#m.notify(HEAD, 1);
  }

  #waitFrame(): void {
    const i32 = this.#i32;
    this.#tail = Atomics.load(i32, TAIL) >>> 0;
    if (this.#head !== this.#tail) return;
    this.flush();
    for (let k = 0; k < this.#spin; k++) {
      this.#tail = Atomics.load(i32, TAIL) >>> 0;
      if (this.#head !== this.#tail) return;
    }
    for (;;) {
      Atomics.store(i32, CONS_WAIT, 1);
      const t = Atomics.load(i32, TAIL);
      if (t >>> 0 === this.#head) this.#m.wait(TAIL, t, Number.POSITIVE_INFINITY);
      Atomics.store(i32, CONS_WAIT, 0);
      this.#tail = Atomics.load(i32, TAIL) >>> 0;
      if (this.#head !== this.#tail) return;
    }
  }

  getStr(): string {
    const off = this.next();
    const s = this.#m.bytes.toString('utf8', off, off + this.len);
    this.release();
    return s;
  }

  getBytes(): Uint8Array {
    const off = this.next();
    const b = Buffer.allocUnsafeSlow(this.len);
    this.#m.bytes.copy(b, 0, off, off + this.len);
    this.release();
    return b;
  }
}
