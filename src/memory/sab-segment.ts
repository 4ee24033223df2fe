/**
 * A segment over a `SharedArrayBuffer`: reaches the worker threads of one process; waits with `Atomics`.
 *
 * V8 commits a large `SharedArrayBuffer` lazily (fresh zeroed pages from the OS), so a ring may be given a large
 * virtual size and only the pages it touches cost memory.
 */
import type { AsyncWait, Segment, SegmentHandle, WaitResult } from './segment.js';

export class SabSegment implements Segment {
  readonly kind = 'sab' as const;
  readonly byteLength: number;
  readonly i32: Int32Array;
  readonly bytes: Buffer;
  readonly #sab: SharedArrayBuffer;

  constructor(sab: SharedArrayBuffer) {
    this.#sab = sab;
    this.byteLength = sab.byteLength;
    this.i32 = new Int32Array(sab);
    this.bytes = Buffer.from(sab);
  }

  static create(size: number): SabSegment {
    return new SabSegment(new SharedArrayBuffer(size));
  }

  wait(index: number, expected: number, timeoutMs: number, parked = -1): WaitResult {
    if (parked < 0) return Atomics.wait(this.i32, index, expected, timeoutMs);
    Atomics.add(this.i32, parked, 1);
    try {
      return Atomics.wait(this.i32, index, expected, timeoutMs);
    } finally {
      Atomics.sub(this.i32, parked, 1);
    }
  }

  waitAsync(index: number, expected: number, timeoutMs: number, parked = -1): AsyncWait {
    if (parked >= 0) Atomics.add(this.i32, parked, 1);
    const res = Atomics.waitAsync(this.i32, index, expected, timeoutMs);
    if (!res.async) {
      if (parked >= 0) Atomics.sub(this.i32, parked, 1);
      return { promise: Promise.resolve(res.value), cancel() {} };
    }
    // Atomics.waitAsync does not keep the event loop alive (nodejs/node#44729): hold a ref'd timer meanwhile.
    const keepAlive = setInterval(() => {}, 1 << 30);
    let cancelled = false;
    const i32 = this.i32;
    const promise = res.value.then((r) => {
      clearInterval(keepAlive);
      if (parked >= 0) Atomics.sub(i32, parked, 1);
      return r;
    });
    return {
      promise,
      cancel() {
        if (cancelled) return;
        cancelled = true;
        // Wakes every waiter on this word; the others see a spurious wake-up and wait again.
        Atomics.notify(i32, index);
      },
    };
  }

  notify(index: number, count: number): number {
    return Atomics.notify(this.i32, index, count === Number.POSITIVE_INFINITY ? undefined : count);
  }

  /** @internal */
  commit(): void {}

  release(): void {}

  handle(): SegmentHandle {
    return { kind: 'sab', sab: this.#sab };
  }
}
