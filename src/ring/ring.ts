/**
 * The multi-producer multi-consumer ring of variable-size frames. Layout and invariants: layout.ts.
 *
 * A put happens in three steps (crossbeam's start_send/write, tokio's reserve/Permit::send):
 * `reserve` room (growing the ring if it must), write the payload in place and `write` its header, then `flush`
 * publishes (one batch of frames or many: `putMany` publishes a whole batch with one store). A get is `peek`, copy
 * out, `next`, then `commitTake`. The caller holds the producer lock for the first and the consumer lock for the second; this file
 * only moves bytes and counters, and never waits except to take the consumer lock to grow the ring.
 */
import { InvariantError } from '../errors.js';
import type { Segment } from '../memory/segment.js';
import { anyoneWaiting } from './advert.js';
import {
  align8,
  C_INTENT_CNT,
  C_INTENT_HEAD,
  C_LOCK,
  C_LOCK_ADVERT,
  CAP,
  CAP_MAX,
  FRAME_HEADER,
  GET_ADVERT,
  GET_COUNT,
  GET_EPOCH,
  HEAD,
  HEADER_BYTES,
  MAGIC,
  MAGIC_VALUE,
  MAXSIZE,
  NO_INTENT,
  P_INTENT_CNT,
  P_INTENT_TAIL,
  P_LOCK,
  P_LOCK_ADVERT,
  PUT_ADVERT,
  PUT_COUNT,
  PUT_EPOCH,
  TAG_WRAP,
  TAIL,
} from './layout.js';
import { SharedLock } from './lock.js';

/** The smallest data region: room for a few small frames. */
export const MIN_CAPACITY = 64;

export function ceilPow2(n: number): number {
  let c = MIN_CAPACITY;
  while (c < n) c *= 2;
  return c;
}

export interface RingInit {
  maxsize: number;
  capacity: number;
  capacityMax: number;
}

export class Ring {
  readonly seg: Segment;
  readonly i32: Int32Array;
  readonly bytes: Buffer;
  readonly producerLock: SharedLock;
  readonly consumerLock: SharedLock;
  readonly maxsize: number;
  readonly capacityMax: number;

  // A producer's open batch, between begin() and flush() (producer lock held): frames written, not published.
  #pendTail = 0; // logical position after the last written frame
  #pendCount = 0; // PUT_COUNT once the batch is published
  #resFrame = 0; // logical position of the reserved frame's header
  #resOffset = 0; // segment byte offset of that header
  // A consumer's open batch, between beginTake() and commitTake() (consumer lock held).
  #takeHead = 0; // logical position of the next frame to read
  #takeCount = 0; // GET_COUNT once the batch is committed
  #peekAt = 0; // segment byte offset of the peeked frame's header
  #peekNext = 0; // logical position just past the peeked frame

  /** Bytes of segment a ring with `capacityMax` data bytes needs. */
  static segmentSize(capacityMax: number): number {
    return HEADER_BYTES + capacityMax;
  }

  /** Writes a fresh header into a zero-filled segment. */
  static initialize(seg: Segment, init: RingInit): void {
    const i32 = seg.i32;
    if (init.capacity > init.capacityMax) throw new InvariantError('capacity above capacityMax');
    i32[MAXSIZE] = init.maxsize;
    i32[CAP_MAX] = init.capacityMax;
    i32[CAP] = init.capacity;
    i32[P_INTENT_TAIL] = NO_INTENT;
    i32[C_INTENT_HEAD] = NO_INTENT;
    seg.commit(HEADER_BYTES, init.capacity);
    Atomics.store(i32, MAGIC, MAGIC_VALUE);
  }

  constructor(seg: Segment) {
    this.seg = seg;
    this.i32 = seg.i32;
    this.bytes = seg.bytes;
    if (Atomics.load(this.i32, MAGIC) !== MAGIC_VALUE)
      throw new InvariantError('segment holds no procq ring');
    this.maxsize = this.i32[MAXSIZE];
    this.capacityMax = this.i32[CAP_MAX];
    this.producerLock = new SharedLock(seg, { lock: P_LOCK, waiters: P_LOCK_ADVERT }, () =>
      this.#recoverProducer(),
    );
    this.consumerLock = new SharedLock(seg, { lock: C_LOCK, waiters: C_LOCK_ADVERT }, () =>
      this.#recoverConsumer(),
    );
  }

  /**
   * Items published and not yet taken, from one consistent snapshot of the two counters: GET_COUNT is read on both
   * sides of PUT_COUNT, and the pair counts only when it did not move in between (then it is exactly what the
   * queue held at the instant PUT_COUNT was read). A take never precedes its publish, so with GET_COUNT read first
   * the difference is never negative even when the counters keep moving; after a few tries that value, clamped to
   * `maxsize`, is returned.
   */
  size(): number {
    const i32 = this.i32;
    let n = 0;
    for (let tries = 0; tries < 8; tries++) {
      const got = Atomics.load(i32, GET_COUNT);
      n = (Atomics.load(i32, PUT_COUNT) - got) | 0;
      if (Atomics.load(i32, GET_COUNT) === got) return n < 0 ? 0 : n;
    }
    if (n < 0) return 0;
    return this.maxsize > 0 && n > this.maxsize ? this.maxsize : n;
  }

  /** Whether `maxsize` items are in the ring (never, for an unbounded ring). */
  isFull(): boolean {
    return this.maxsize > 0 && this.size() >= this.maxsize;
  }

  // ---------------------------------------------------------------- producer side (producer lock held)

  /** The largest payload a frame can ever have: the whole ring at its largest, less the frame header. */
  largestPayload(): number {
    return this.capacityMax - FRAME_HEADER;
  }

  /** Opens a batch of puts. */
  begin(): void {
    this.#pendTail = this.i32[TAIL];
    this.#pendCount = this.i32[PUT_COUNT];
  }

  /** Items in the ring counting the open batch's unpublished ones: what `maxsize` is checked against. */
  sizeWithPending(): number {
    return (this.#pendCount - Atomics.load(this.i32, GET_COUNT)) | 0;
  }

  /**
   * Reserves a frame for up to `maxPayload` bytes and returns the segment offset where the payload goes, or -1
   * when the ring cannot hold it even at its largest (callers wait for consumers then).
   */
  reserve(maxPayload: number): number {
    const need = FRAME_HEADER + align8(maxPayload);
    for (;;) {
      const i32 = this.i32;
      const cap = i32[CAP];
      const tail = this.#pendTail >>> 0;
      const used = (tail - (Atomics.load(i32, HEAD) >>> 0)) >>> 0;
      const phys = tail & (cap - 1);
      const toEnd = cap - phys;
      if (need <= toEnd) {
        if (used + need <= cap) return this.#reserveAt(tail, phys);
      } else if (used + toEnd + need <= cap) {
        // Does not fit before the end: a WRAP frame tells consumers to skip the rest of the region.
        const at = HEADER_BYTES + phys;
        i32[at >> 2] = toEnd;
        i32[(at >> 2) + 1] = TAG_WRAP;
        return this.#reserveAt((tail + toEnd) >>> 0, 0);
      }
      if (this.#grow(used + toEnd + need)) continue;
      // At its largest: an empty ring can still be too small at this position (room before the end, and after the
      // wrap, but not both); start again at a multiple of CAP.
      if (used === 0 && need <= cap && this.#realign(tail, toEnd)) continue;
      return -1;
    }
  }

  /**
   * Moves an empty ring's HEAD and TAIL to the next multiple of CAP (both locks held). A WRAP frame is written
   * first and TAIL moved past it, then HEAD: a producer killed in between leaves a consumer that skips the WRAP.
   */
  #realign(tail: number, toEnd: number): boolean {
    const i32 = this.i32;
    this.consumerLock.acquireSync();
    try {
      if (Atomics.load(i32, HEAD) >>> 0 !== tail || this.#pendCount !== i32[PUT_COUNT]) return false;
      const at = HEADER_BYTES + (tail & (i32[CAP] - 1));
      i32[at >> 2] = toEnd;
      i32[(at >> 2) + 1] = TAG_WRAP;
      const next = (tail + toEnd) | 0;
      this.#pendTail = next;
      Atomics.store(i32, TAIL, next);
      Atomics.store(i32, HEAD, next);
      return true;
    } finally {
      this.consumerLock.release();
    }
  }

  #reserveAt(frame: number, phys: number): number {
    this.#resFrame = frame;
    this.#resOffset = HEADER_BYTES + phys;
    return this.#resOffset + FRAME_HEADER;
  }

  /** Ends the reserved frame, whose payload (`length` bytes) is written; it is published by `flush()`. */
  write(tag: number, length: number): void {
    const i32 = this.i32;
    const at = this.#resOffset >> 2;
    i32[at] = length;
    i32[at + 1] = tag;
    this.#pendTail = (this.#resFrame + FRAME_HEADER + align8(length)) | 0;
    this.#pendCount = (this.#pendCount + 1) | 0;
  }

  /** Publishes every frame written since `begin()`, in one step. */
  flush(): void {
    const i32 = this.i32;
    if (this.#pendCount === i32[PUT_COUNT]) return;
    // Plain stores are enough for the journal: the seq-cst store of PUT_COUNT orders them (V8 does not move plain
    // stores across an atomic one, and x86 keeps stores in order), and a lock taken over is taken by a CAS.
    i32[P_INTENT_CNT] = this.#pendCount;
    i32[P_INTENT_TAIL] = this.#pendTail; // the journal: replayed if this producer dies from here on
    i32[TAIL] = this.#pendTail;
    Atomics.store(i32, PUT_COUNT, this.#pendCount); // the publish point
    i32[P_INTENT_TAIL] = NO_INTENT;
  }

  /** Whether a getter sleeps on PUT_COUNT (the caller wakes it after releasing the producer lock). */
  getterWaiting(): boolean {
    return anyoneWaiting(this.i32, GET_ADVERT, this.#getPrune);
  }

  readonly #getPrune = { lastPrune: Number.NEGATIVE_INFINITY };
  readonly #putPrune = { lastPrune: Number.NEGATIVE_INFINITY };

  /** Grows the data region (doubling) until `bytesNeeded` fit. Takes the consumer lock. */
  #grow(bytesNeeded: number): boolean {
    const i32 = this.i32;
    const cap = i32[CAP];
    let newCap = cap * 2;
    while (newCap < bytesNeeded) newCap *= 2;
    if (newCap > this.capacityMax) return false;
    this.seg.commit(HEADER_BYTES + cap, newCap - cap); // before touching: a full /dev/shm is an Error here
    this.consumerLock.acquireSync();
    try {
      const head = Atomics.load(i32, HEAD) >>> 0;
      const tail = this.#pendTail >>> 0; // written-but-unpublished frames move too
      // Each live byte at logical p moves from p & (cap-1) to p & (newCap-1): the same place, or higher by a
      // multiple of cap, into bytes no frame uses. Runs break at multiples of cap.
      let p = head;
      let left = (tail - head) >>> 0;
      while (left > 0) {
        const src = p & (cap - 1);
        const run = Math.min(left, cap - src);
        const dst = p & (newCap - 1);
        if (dst !== src)
          this.bytes.copyWithin(HEADER_BYTES + dst, HEADER_BYTES + src, HEADER_BYTES + src + run);
        p = (p + run) >>> 0;
        left -= run;
      }
      Atomics.store(i32, CAP, newCap); // the switch to the new layout: one word
    } finally {
      this.consumerLock.release();
    }
    return true;
  }

  // ---------------------------------------------------------------- consumer side (consumer lock held)

  /** Opens a batch of takes. */
  beginTake(): void {
    this.#takeHead = this.i32[HEAD];
    this.#takeCount = this.i32[GET_COUNT];
  }

  /** Items published and not yet taken, counting the open batch's takes as taken. */
  available(): number {
    return (Atomics.load(this.i32, PUT_COUNT) - this.#takeCount) | 0;
  }

  /** The next frame's tag; its payload is `payloadLength()` bytes at `payloadOffset()`. Requires `available() > 0`. */
  peek(): number {
    const i32 = this.i32;
    const cap = i32[CAP];
    let head = this.#takeHead >>> 0;
    let at = (HEADER_BYTES + (head & (cap - 1))) >> 2;
    if (i32[at + 1] === TAG_WRAP) {
      head = (head + i32[at]) >>> 0;
      at = (HEADER_BYTES + (head & (cap - 1))) >> 2;
    }
    this.#peekAt = at << 2;
    this.#peekNext = (head + FRAME_HEADER + align8(i32[at])) | 0;
    return i32[at + 1];
  }

  payloadOffset(): number {
    return this.#peekAt + FRAME_HEADER;
  }

  payloadLength(): number {
    return this.i32[this.#peekAt >> 2];
  }

  /** Marks the peeked frame as taken (its payload copied out); it is released by `commitTake()`. */
  next(): void {
    this.#takeHead = this.#peekNext;
    this.#takeCount = (this.#takeCount + 1) | 0;
  }

  /** Releases every frame taken since `beginTake()`, in one step. */
  commitTake(): void {
    const i32 = this.i32;
    if (this.#takeCount === i32[GET_COUNT]) return;
    i32[C_INTENT_CNT] = this.#takeCount;
    i32[C_INTENT_HEAD] = this.#takeHead; // the journal (plain stores: see flush)
    Atomics.store(i32, HEAD, this.#takeHead);
    Atomics.store(i32, GET_COUNT, this.#takeCount); // the take point
    i32[C_INTENT_HEAD] = NO_INTENT;
  }

  /** Discards every published item (immediate shutdown); returns how many. Consumer lock held. */
  discardAll(): number {
    this.beginTake();
    let n = 0;
    while (this.available() > 0) {
      this.peek();
      this.next();
      n++;
    }
    this.commitTake();
    return n;
  }

  /** Whether a putter sleeps on GET_COUNT (the caller wakes it after releasing the consumer lock). */
  putterWaiting(): boolean {
    return anyoneWaiting(this.i32, PUT_ADVERT, this.#putPrune);
  }

  wakeGetters(): void {
    Atomics.add(this.i32, GET_EPOCH, 1);
    this.seg.notify(GET_EPOCH, Number.POSITIVE_INFINITY);
  }

  wakePutters(): void {
    Atomics.add(this.i32, PUT_EPOCH, 1);
    this.seg.notify(PUT_EPOCH, Number.POSITIVE_INFINITY);
  }

  // ---------------------------------------------------------------- recovery from a dead lock owner

  #recoverProducer(): void {
    const i32 = this.i32;
    const tail = Atomics.load(i32, P_INTENT_TAIL);
    if (tail === NO_INTENT) return; // died before journaling: its half-written frame lies past TAIL, unpublished
    i32[TAIL] = tail;
    Atomics.store(i32, PUT_COUNT, i32[P_INTENT_CNT]);
    Atomics.store(i32, P_INTENT_TAIL, NO_INTENT);
    this.wakeGetters();
  }

  #recoverConsumer(): void {
    const i32 = this.i32;
    const head = Atomics.load(i32, C_INTENT_HEAD);
    if (head === NO_INTENT) return; // died before journaling: the frame it was copying is still at HEAD
    Atomics.store(i32, HEAD, head);
    Atomics.store(i32, GET_COUNT, i32[C_INTENT_CNT]);
    Atomics.store(i32, C_INTENT_HEAD, NO_INTENT);
    this.wakePutters();
  }
}
