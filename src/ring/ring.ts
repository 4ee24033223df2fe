/**
 * The multi-producer multi-consumer ring of variable-size frames. Layout and invariants: layout.ts.
 *
 * A put happens in three steps (crossbeam's start_send/write, tokio's reserve/Permit::send):
 * `reserve` room (growing the ring if it must), write the payload in place and `write` its header, then `flush`
 * publishes (one batch of frames or many: `putMany` publishes a whole batch with one store). A get is `peek`, copy
 * out, `next`, then `commitTake`. The caller holds the producer lock for the first and the consumer lock for the second; this file
 * only moves bytes and counters, and never waits except to take the consumer lock to grow the ring.
 */

// The item tags are the codec's (codec/tags.ts); the ring checks a frame's tag against them before trusting it.
import {
  TAG_BUFFER,
  TAG_FALSE,
  TAG_NULL,
  TAG_NUMBER,
  TAG_TRUE,
  TAG_UNDEFINED,
  TAG_UTF16,
} from '../codec/tags.js';
import { InvariantError } from '../errors.js';
import type { Segment } from '../memory/segment.js';
import { WaitWord } from '../wait/index.js';
import {
  align8,
  BROKEN,
  C_INTENT_CNT,
  C_INTENT_HEAD,
  C_LOCK,
  C_LOCK_ADVERT,
  C_LOCK_START,
  CAP,
  CAP_INIT,
  CAP_MAX,
  DONE as DONE_WORD,
  FRAME_HEADER,
  frameCheck,
  GET_ADVERT,
  GET_COUNT,
  GET_EPOCH,
  GET_PARKED,
  GREW_AT,
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
  P_LOCK_START,
  PUT_ADVERT,
  PUT_COUNT,
  PUT_EPOCH,
  PUT_PARKED,
  SHRINK_AFTER_MS,
  SHUTDOWN,
  TAG_MASK,
  TAG_WRAP,
  TAIL,
} from './layout.js';
import { SharedLock } from './lock.js';

/** The smallest data region: room for a few small frames. */
export const MIN_CAPACITY = 64;

/** `reserve` could not take the consumer lock (to grow the ring) by its deadline. */
export const LOCK_BUSY = -2;

export function ceilPow2(n: number): number {
  let c = MIN_CAPACITY;
  while (c < n) c *= 2;
  return c;
}

/** Reasons stored in the BROKEN word (the low byte; the next byte names a header word where one applies). */
const BROKEN_HEADER = 1;
const BROKEN_FRAME = 2;
const BROKEN_PAYLOAD = 3;
const BROKEN_JOURNAL = 4;

const WORD_NAMES: Record<number, string> = {
  [MAGIC]: 'MAGIC',
  [MAXSIZE]: 'MAXSIZE',
  [CAP_MAX]: 'CAP_MAX',
  [CAP]: 'CAP',
  [HEAD]: 'HEAD',
  [TAIL]: 'TAIL',
  [PUT_COUNT]: 'PUT_COUNT',
  [GET_COUNT]: 'GET_COUNT',
  [P_INTENT_TAIL]: 'P_INTENT_TAIL',
  [C_INTENT_HEAD]: 'C_INTENT_HEAD',
  [SHUTDOWN]: 'SHUTDOWN',
};

/** The message of a queue broken for `code` (what BROKEN holds): the same in every process. */
function brokenMessage(code: number): string {
  const word = WORD_NAMES[(code >>> 8) & 0xff] ?? 'a header word';
  switch (code & 0xff) {
    case BROKEN_HEADER:
      return `its header word ${word} breaks the ring's invariants`;
    case BROKEN_FRAME:
      return 'a frame header (length, tag or check bits) breaks the ring layout';
    case BROKEN_PAYLOAD:
      return "a frame's payload does not decode as its tag says";
    case BROKEN_JOURNAL:
      return `a dead owner's commit journal (${word}) points outside the ring`;
  }
  return `its BROKEN word holds an unknown reason (${code})`;
}

/** Payload lengths each tag allows (-1: any; -2: even). Unknown tags are not in the table. */
const TAG_LENGTH: Record<number, number> = {
  1: -1,
  2: -1,
  [TAG_NUMBER]: 8,
  4: -1,
  [TAG_BUFFER]: -1,
  6: -1,
  7: -1,
  [TAG_UNDEFINED]: 0,
  [TAG_NULL]: 0,
  [TAG_TRUE]: 0,
  [TAG_FALSE]: 0,
  12: -1,
  13: -1,
  [TAG_UTF16]: -2,
};

/** Wall-clock time in tenths of a second, wrapping at 2^31: comparable across processes. */
function tenths(): number {
  return Math.floor(Date.now() / 100) % 0x80000000;
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
  /** Getters sleep here for a publish (PUT_COUNT) or a shutdown; a publish of n items wakes n of them. */
  readonly getters: WaitWord;
  /** Putters sleep here for a take (GET_COUNT) or a shutdown; a take of n items wakes n of them. */
  readonly putters: WaitWord;
  readonly maxsize: number;
  readonly capacityMax: number;
  /** What errors name the queue by: its segment's name. */
  readonly name: string;

  // A producer's open batch, between begin() and flush() (producer lock held): frames written, not published.
  #pendTail = 0; // logical position after the last written frame
  #lockDeadline = Number.POSITIVE_INFINITY; // of the consumer lock, when reserve() must grow or realign
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
    i32[CAP_INIT] = init.capacity;
    i32[P_INTENT_TAIL] = NO_INTENT;
    i32[C_INTENT_HEAD] = NO_INTENT;
    seg.commit(HEADER_BYTES, init.capacity);
    Atomics.store(i32, MAGIC, MAGIC_VALUE);
  }

  constructor(seg: Segment) {
    this.seg = seg;
    this.i32 = seg.i32;
    this.bytes = seg.bytes;
    this.name = (seg as { name?: string }).name ?? 'a thread-only queue (SharedArrayBuffer)';
    if (Atomics.load(this.i32, MAGIC) !== MAGIC_VALUE) {
      if (Atomics.load(this.i32, BROKEN) !== 0) throw this.brokenError(); // a ring whose MAGIC was overwritten
      throw new InvariantError(`segment ${this.name} holds no procq ring`, { queue: this.name });
    }
    this.maxsize = this.i32[MAXSIZE];
    this.capacityMax = this.i32[CAP_MAX];
    this.producerLock = new SharedLock(
      seg,
      { lock: P_LOCK, start: P_LOCK_START, waiters: P_LOCK_ADVERT },
      () => this.#recoverProducer(),
    );
    this.consumerLock = new SharedLock(
      seg,
      { lock: C_LOCK, start: C_LOCK_START, waiters: C_LOCK_ADVERT },
      () => this.#recoverConsumer(),
    );
    this.getters = new WaitWord(seg, GET_EPOCH, GET_ADVERT, { epoch: true, parked: GET_PARKED });
    this.putters = new WaitWord(seg, PUT_EPOCH, PUT_ADVERT, { epoch: true, parked: PUT_PARKED });
    if (
      this.capacityMax < MIN_CAPACITY ||
      (this.capacityMax & (this.capacityMax - 1)) !== 0 ||
      Ring.segmentSize(this.capacityMax) > seg.byteLength
    ) {
      this.#markBroken(BROKEN_HEADER | (CAP_MAX << 8));
    }
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
      if (Atomics.load(i32, GET_COUNT) === got) return Math.max(n, 0);
    }
    if (n < 0) return 0;
    return this.maxsize > 0 && n > this.maxsize ? this.maxsize : n;
  }

  /** Whether the data region is at its largest (putters may then wait for bytes, not only for a count). */
  atLargest(): boolean {
    return this.i32[CAP] >= this.capacityMax;
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

  /** Opens a batch of puts (validating the header words the producer relies on). */
  begin(): void {
    const i32 = this.i32;
    // HEAD and GET_COUNT move together under the consumer lock (HEAD first), so read here they may disagree: the
    // items-per-byte bound is the consumer's to check.
    this.#checkHeader(Atomics.load(i32, HEAD), i32[TAIL], i32[PUT_COUNT], Atomics.load(i32, GET_COUNT), -1);
    this.#pendTail = i32[TAIL];
    this.#pendCount = i32[PUT_COUNT];
  }

  /** Items in the ring counting the open batch's unpublished ones: what `maxsize` is checked against. */
  sizeWithPending(): number {
    return (this.#pendCount - Atomics.load(this.i32, GET_COUNT)) | 0;
  }

  /**
   * Reserves a frame for up to `maxPayload` bytes and returns the segment offset where the payload goes, -1
   * when the ring cannot hold it even at its largest (callers wait for consumers then), or LOCK_BUSY when it must
   * grow and the consumer lock could not be taken by `lockDeadline` (a `performance.now()` time; 0: only try, as
   * the async forms do, which then wait for the lock asynchronously and retry).
   */
  reserve(maxPayload: number, lockDeadline = Number.POSITIVE_INFINITY): number {
    this.#lockDeadline = lockDeadline;
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
        i32[(at >> 2) + 1] = frameCheck(tail, toEnd, TAG_WRAP) | TAG_WRAP;
        return this.#reserveAt((tail + toEnd) >>> 0, 0);
      }
      const grown = this.#grow(used + toEnd + need);
      if (grown === LOCK_BUSY) return LOCK_BUSY;
      if (grown) continue;
      // At its largest: an empty ring can still be too small at this position (room before the end, and after the
      // wrap, but not both); start again at a multiple of CAP.
      if (used === 0 && need <= cap) {
        const realigned = this.#realign(tail, toEnd);
        if (realigned === LOCK_BUSY) return LOCK_BUSY;
        if (realigned) continue;
      }
      return -1;
    }
  }

  /**
   * Moves an empty ring's HEAD and TAIL to the next multiple of CAP (both locks held). A WRAP frame is written
   * first and TAIL moved past it, then HEAD: a producer killed in between leaves a consumer that skips the WRAP.
   */
  #realign(tail: number, toEnd: number): boolean | typeof LOCK_BUSY {
    const i32 = this.i32;
    if (!this.consumerLock.acquireSync(this.#lockDeadline)) return LOCK_BUSY;
    try {
      if (Atomics.load(i32, HEAD) >>> 0 !== tail || this.#pendCount !== i32[PUT_COUNT]) return false;
      const at = HEADER_BYTES + (tail & (i32[CAP] - 1));
      i32[at >> 2] = toEnd;
      i32[(at >> 2) + 1] = frameCheck(tail, toEnd, TAG_WRAP) | TAG_WRAP;
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
    i32[at + 1] = frameCheck(this.#resFrame, length, tag) | tag;
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

  /** Grows the data region (doubling) until `bytesNeeded` fit. Takes the consumer lock. */
  #grow(bytesNeeded: number): boolean | typeof LOCK_BUSY {
    const i32 = this.i32;
    const cap = i32[CAP];
    let newCap = cap * 2;
    while (newCap < bytesNeeded) newCap *= 2;
    if (newCap > this.capacityMax) return false;
    this.seg.commit(HEADER_BYTES + cap, newCap - cap); // before touching: a full /dev/shm is an Error here
    if (!this.consumerLock.acquireSync(this.#lockDeadline)) return LOCK_BUSY;
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
      i32[GREW_AT] = tenths();
      Atomics.store(i32, CAP, newCap); // the switch to the new layout: one word
    } finally {
      this.consumerLock.release();
    }
    return true;
  }

  // ---------------------------------------------------------------- shrinking (no lock held)

  /**
   * Milliseconds until a drained ring may shrink back to its initial size: 0 when it may now, -1 when it has
   * nothing to give back (at its initial size, not empty, or a ring that never shrinks).
   */
  shrinkDelay(): number {
    const i32 = this.i32;
    const init = i32[CAP_INIT];
    if (init <= 0 || i32[CAP] <= init || this.size() !== 0) return -1;
    const since = ((tenths() - i32[GREW_AT]) | 0) * 100;
    return since >= SHRINK_AFTER_MS || since < 0 ? 0 : SHRINK_AFTER_MS - since;
  }

  /**
   * Shrinks an empty ring back to CAP_INIT and gives the rest of its pages back (see layout.ts). Takes both locks
   * only if they are free (never waits); returns whether it shrank.
   */
  tryShrink(): boolean {
    if (this.shrinkDelay() !== 0 || !this.producerLock.tryAcquire()) return false;
    try {
      if (!this.consumerLock.tryAcquire()) return false;
      try {
        const i32 = this.i32;
        this.begin(); // validates the header words
        this.beginTake();
        const cap = i32[CAP];
        const init = i32[CAP_INIT];
        if (this.shrinkDelay() !== 0 || i32[HEAD] !== i32[TAIL] || init < MIN_CAPACITY || init > cap)
          return false;
        Atomics.store(i32, CAP, init);
        this.seg.release(HEADER_BYTES + init, cap - init);
        return true;
      } finally {
        this.consumerLock.release();
      }
    } finally {
      this.producerLock.release();
    }
  }

  // ---------------------------------------------------------------- consumer side (consumer lock held)

  /** Opens a batch of takes (validating the header words the consumer relies on). */
  beginTake(): void {
    const i32 = this.i32;
    const head = i32[HEAD];
    const got = i32[GET_COUNT];
    // PUT_COUNT before TAIL: a producer moves TAIL first, so the pair never shows more items than bytes.
    const put = Atomics.load(i32, PUT_COUNT);
    this.#checkHeader(head, Atomics.load(i32, TAIL), put, got, C_INTENT_HEAD);
    this.#takeHead = head;
    this.#takeCount = got;
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
    // Published bytes ahead: TAIL was read after PUT_COUNT (available()), so it covers every published frame.
    let ahead = (Atomics.load(i32, TAIL) - head) >>> 0;
    let phys = head & (cap - 1);
    let at = (HEADER_BYTES + phys) >> 2;
    let len = i32[at];
    let word = i32[at + 1];
    if ((word & TAG_MASK) === TAG_WRAP) {
      // A skip to a multiple of the CAP it was written under, followed by the frame it was written for.
      if (
        (word & ~TAG_MASK) !== frameCheck(head, len, TAG_WRAP) ||
        len <= 0 ||
        (len & 7) !== 0 ||
        len > cap - phys ||
        len >= ahead ||
        ((head + len) & (MIN_CAPACITY - 1)) !== 0
      ) {
        this.#markBroken(BROKEN_FRAME);
      }
      head = (head + len) >>> 0;
      ahead -= len;
      phys = head & (cap - 1);
      at = (HEADER_BYTES + phys) >> 2;
      len = i32[at];
      word = i32[at + 1];
    }
    const tag = word & TAG_MASK;
    const allowed = TAG_LENGTH[tag];
    if (
      allowed === undefined ||
      (word & ~TAG_MASK) !== frameCheck(head, len, tag) ||
      len < 0 ||
      FRAME_HEADER + align8(len) > Math.min(cap - phys, ahead) ||
      (allowed >= 0 ? len !== allowed : allowed === -2 && (len & 1) !== 0)
    ) {
      this.#markBroken(BROKEN_FRAME);
    }
    this.#peekAt = at << 2;
    this.#peekNext = (head + FRAME_HEADER + align8(len)) | 0;
    return tag;
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

  // ---------------------------------------------------------------- validation

  /**
   * Checks the header words an operation relies on (the lock of side `journal` held; see layout.ts, Validation).
   * A consumer (`journal` = C_INTENT_HEAD) read `put` before `tail`: a producer moves TAIL before PUT_COUNT, so
   * `put - got <= (tail - head) / 8` holds; a producer (`journal` = -1 for its own P_INTENT_TAIL check without
   * that bound) reads HEAD and GET_COUNT while a consumer may be between its two stores.
   */
  #checkHeader(head: number, tail: number, put: number, got: number, journal: number): void {
    const i32 = this.i32;
    const cap = i32[CAP];
    const bytes = (tail - head) >>> 0;
    const items = (put - got) | 0;
    let word = -1;
    if (Atomics.load(i32, BROKEN) !== 0) throw this.brokenError();
    else if (i32[MAGIC] !== MAGIC_VALUE) word = MAGIC;
    else if (i32[MAXSIZE] !== this.maxsize) word = MAXSIZE;
    else if (i32[CAP_MAX] !== this.capacityMax) word = CAP_MAX;
    else if (cap < MIN_CAPACITY || cap > this.capacityMax || (cap & (cap - 1)) !== 0) word = CAP;
    else if ((head & 7) !== 0) word = HEAD;
    else if ((tail & 7) !== 0 || bytes > cap) word = TAIL;
    else if (
      items < 0 ||
      (this.maxsize > 0 && items > this.maxsize) ||
      (journal === C_INTENT_HEAD && items > bytes / FRAME_HEADER)
    )
      word = PUT_COUNT;
    else if (i32[journal === C_INTENT_HEAD ? C_INTENT_HEAD : P_INTENT_TAIL] !== NO_INTENT)
      word = journal === C_INTENT_HEAD ? C_INTENT_HEAD : P_INTENT_TAIL;
    else if (Atomics.load(i32, SHUTDOWN) >>> 0 > 2) word = SHUTDOWN;
    if (word >= 0) this.#markBroken(BROKEN_HEADER | (word << 8));
  }

  /** Whether the queue was marked broken (by any process). */
  isBroken(): boolean {
    return Atomics.load(this.i32, BROKEN) !== 0;
  }

  /** Throws the queue's InvariantError when it was marked broken. */
  checkBroken(): void {
    if (Atomics.load(this.i32, BROKEN) !== 0) throw this.brokenError();
  }

  /** The error every call on a broken queue fails with: the same in every process. */
  brokenError(): InvariantError {
    const code = Atomics.load(this.i32, BROKEN);
    return new InvariantError(
      `queue ${this.name}: ${brokenMessage(code)}; its shared memory was changed by something other than ` +
        'procq, and every call on it fails from now on',
      { queue: this.name },
    );
  }

  /** A frame's payload failed to decode: marks the queue broken and throws. */
  failPayload(cause: unknown): never {
    this.#markBroken(BROKEN_PAYLOAD, true, cause);
  }

  /**
   * Marks the queue broken for every process (the first reason stays), wakes every sleeper so that it fails too,
   * and throws (unless `raise` is false: recovery runs inside a lock take-over, whose caller looks at BROKEN).
   */
  #markBroken(code: number, raise: true, cause?: unknown): never;
  #markBroken(code: number, raise: false): void;
  #markBroken(code: number): never;
  #markBroken(code: number, raise = true, cause?: unknown): void {
    const i32 = this.i32;
    Atomics.compareExchange(i32, BROKEN, 0, code);
    this.getters.broadcast();
    this.putters.broadcast();
    const seg = this.seg;
    for (const word of [DONE_WORD, P_LOCK, C_LOCK]) seg.notify(word, Number.POSITIVE_INFINITY);
    if (raise) {
      const err = this.brokenError();
      if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, configurable: true });
      throw err;
    }
  }

  // ---------------------------------------------------------------- recovery from a dead lock owner

  #recoverProducer(): void {
    const i32 = this.i32;
    const tail = Atomics.load(i32, P_INTENT_TAIL);
    if (tail === NO_INTENT) return; // died before journaling: its half-written frame lies past TAIL, unpublished
    const cap = i32[CAP];
    // TAIL may already be the journal's (killed between its two stores): bytes and items need not agree here.
    const moved = (tail - i32[TAIL]) >>> 0;
    const added = (i32[P_INTENT_CNT] - i32[PUT_COUNT]) | 0;
    if (
      (tail & 7) !== 0 ||
      (tail - Atomics.load(i32, HEAD)) >>> 0 > cap ||
      moved > cap ||
      added < 0 ||
      added > cap / FRAME_HEADER
    ) {
      this.#markBroken(BROKEN_JOURNAL | (P_INTENT_TAIL << 8), false);
      return;
    }
    i32[TAIL] = tail;
    Atomics.store(i32, PUT_COUNT, i32[P_INTENT_CNT]);
    Atomics.store(i32, P_INTENT_TAIL, NO_INTENT);
    this.getters.broadcast();
  }

  #recoverConsumer(): void {
    const i32 = this.i32;
    const head = Atomics.load(i32, C_INTENT_HEAD);
    if (head === NO_INTENT) return; // died before journaling: the frame it was copying is still at HEAD
    // HEAD may already be the journal's (killed between its two stores): bytes and items need not agree here.
    const moved = (head - i32[HEAD]) >>> 0;
    const taken = (i32[C_INTENT_CNT] - i32[GET_COUNT]) | 0;
    if (
      (head & 7) !== 0 ||
      moved > (Atomics.load(i32, TAIL) - i32[HEAD]) >>> 0 ||
      taken < 0 ||
      taken > ((Atomics.load(i32, PUT_COUNT) - i32[GET_COUNT]) | 0)
    ) {
      this.#markBroken(BROKEN_JOURNAL | (C_INTENT_HEAD << 8), false);
      return;
    }
    Atomics.store(i32, HEAD, head);
    Atomics.store(i32, GET_COUNT, i32[C_INTENT_CNT]);
    Atomics.store(i32, C_INTENT_HEAD, NO_INTENT);
    this.putters.broadcast();
  }
}
