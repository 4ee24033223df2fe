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
import { noSpaceError } from '../memory/index.js';
import type { Segment } from '../memory/segment.js';
import { WaitWord } from '../wait/index.js';
import {
  BLOCK_EXIT,
  BLOCK_HEADER,
  BLOCK_MAX_PAYLOAD,
  type Block,
  Blocks,
  blockBytes,
  MAX_SEQ_GAP,
  nextSeq,
  seqGap,
} from './blocks.js';
import {
  align8,
  BROKEN,
  C_BLOCK,
  C_BLOCK_POS,
  C_DONE,
  C_FREED,
  C_INTENT_BLOCK,
  C_INTENT_BPOS,
  C_INTENT_CNT,
  C_INTENT_DONE,
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
  GET_PARK_SEQ,
  GET_PARKED,
  GET_WOKE_SEQ,
  GREW_AT,
  HEAD,
  HEADER_BYTES,
  LINK_ROOM,
  MAGIC,
  MAGIC_VALUE,
  MAXSIZE,
  NO_INTENT,
  P_BLOCK,
  P_BLOCK_POS,
  P_INTENT_BLOCK,
  P_INTENT_BPOS,
  P_INTENT_CNT,
  P_INTENT_LINKED,
  P_INTENT_TAIL,
  P_LINKED,
  P_LOCK,
  P_LOCK_ADVERT,
  P_LOCK_START,
  P_SEQ,
  PUT_ADVERT,
  PUT_COUNT,
  PUT_EPOCH,
  PUT_PARKED,
  SHRINK_AFTER_MS,
  SHUTDOWN,
  TAG_BACK,
  TAG_LINK,
  TAG_MASK,
  TAG_NEXT,
  TAG_WRAP,
  TAIL,
} from './layout.js';
import { SharedLock } from './lock.js';

/** The smallest data region: room for a few small frames. */
export const MIN_CAPACITY = 64;

/** Frames of at least this many bytes stamp GREW_AT on every reserve past CAP_INIT; smaller ones every STAMP_EVERY. */
const STAMP_ALWAYS = 4096;
const STAMP_EVERY = 64;

/** #roomSoon: how often it looks at HEAD, how long HEAD may stay still (plus a take's time), and the most in all. */
const SPILL_POLL_MS = 0.05;
const SPILL_IDLE_MS = 20;
const SPILL_TAKE_BYTES_PER_MS = 1 << 19;
const SPILL_WAIT_MAX_MS = 50;
/** The same for an async put (`lockDeadline` 0), which waits with its event loop blocked: shorter. */
const SPILL_IDLE_ASYNC_MS = 5;
const SPILL_WAIT_MAX_ASYNC_MS = 10;
/**
 * Frames of at least PACE_FRAME bytes do not grow a ring that already holds PACE_FRAMES of them while a consumer
 * keeps taking: the producer follows the consumer's pace instead (#roomSoon with the PACE_* bounds, shorter than a
 * spill's), since each grown MiB is fresh memory both processes fault in (on a virtual machine ~1.5 ms per MiB and
 * side, more than ten copies of it), and PACE_FRAMES in flight already let one side write while the other reads.
 */
const PACE_FRAME = 256 << 10;
const PACE_FRAMES = 3;
const PACE_IDLE_MS = 2;
const PACE_WAIT_MAX_MS = 10;

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
const BROKEN_BLOCK = 5;

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
  [P_BLOCK]: 'P_BLOCK',
  [P_BLOCK_POS]: 'P_BLOCK_POS',
  [C_BLOCK]: 'C_BLOCK',
  [C_BLOCK_POS]: 'C_BLOCK_POS',
  [P_SEQ]: 'P_SEQ',
  [P_LINKED]: 'P_LINKED',
  [C_DONE]: 'C_DONE',
  [C_FREED]: 'C_FREED',
  [P_INTENT_BLOCK]: 'P_INTENT_BLOCK',
  [C_INTENT_BLOCK]: 'C_INTENT_BLOCK',
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
    case BROKEN_BLOCK:
      return 'an overflow block it chains to is missing or breaks the block layout';
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

/** The check bits of a frame at position `pos` of block `seq` (frameCheck, with the block's number mixed in). */
function blockCheck(seq: number, pos: number, length: number, tag: number): number {
  return frameCheck((pos ^ Math.imul(seq, 0x9e3779b1)) | 0, length, tag);
}

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
  /** CAP_INIT (0 in a ring that never shrinks): a frame that needs more than this marks the growth as still in use. */
  readonly #capInit: number;
  /** Small frames left before a reserve past CAP_INIT stamps GREW_AT again (see #stillNeeded). */
  #stampIn = 0;
  /** What errors name the queue by: its segment's name. */
  readonly name: string;
  /** Whether items the ring has no room for go to overflow blocks (POSIX shared memory: blocks are found by name). */
  readonly chainable: boolean;
  /** The overflow blocks this thread has mapped. */
  readonly blocks: Blocks;

  // A producer's open batch, between begin() and flush() (producer lock held): frames written, not published.
  #pendTail = 0; // logical position after the last written frame
  #lockDeadline = Number.POSITIVE_INFINITY; // of the consumer lock, when reserve() must grow or realign
  #pendCount = 0; // PUT_COUNT once the batch is published
  #resFrame = 0; // logical position of the reserved frame's header
  #resOffset = 0; // segment byte offset of that header
  #resBlock: Block | null = null; // the block of the reserved frame (null: the ring)
  #pendBlock = 0; // the block the producer writes in (0: the ring), and where in it (P_BLOCK, P_BLOCK_POS)
  #pendBpos = 0;
  #pendLinked = 0; // P_LINKED once the batch is published
  #chainMoved = false; // the batch changed the producer's block words
  // The producer's view of the consumers' published line (layout.ts, "Cached positions"): HEAD and GET_COUNT as
  // read at some earlier instant, so never ahead of the true ones. Read again only when they say the ring is full.
  #seenHead = 0;
  #seenGot = 0;
  #viewP = false; // the two above are a view (false: read them again at the next begin())
  #leftTail = 0; // TAIL and PUT_COUNT as this handle left them: others at begin() mean another producer (or a
  #leftPut = 0; // recovery) ran since, and the view is dropped
  // A consumer's open batch, between beginTake() and commitTake() (consumer lock held).
  #takeHead = 0; // logical position of the next frame to read
  #takeCount = 0; // GET_COUNT once the batch is committed
  #peekAt = 0; // segment byte offset of the peeked frame's header
  #peekNext = 0; // logical position just past the peeked frame
  #peekLen = 0; // the peeked frame's payload length
  #peekBlock: Block | null = null; // the block of the peeked frame (null: the ring)
  #takeBlock = 0; // the block the consumer reads in (0: the ring), and where in it (C_BLOCK, C_BLOCK_POS)
  #takeBpos = 0;
  #takeDone = 0; // C_DONE once the batch is committed
  #takeMoved = false; // the batch changed the consumer's block words
  // The consumer's view of the producers' published line: PUT_COUNT, then TAIL, read at one earlier instant (so
  // every frame PUT_COUNT counts lies before that TAIL). Read again only when they say the ring is empty.
  #seenPut = 0;
  #seenTail = 0;
  #viewC = false;
  #leftHead = 0; // HEAD and GET_COUNT as this handle left them (as #leftTail and #leftPut)
  #leftGot = 0;

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
    i32[P_INTENT_BLOCK] = NO_INTENT;
    i32[C_INTENT_BLOCK] = NO_INTENT;
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
    this.#capInit = this.i32[CAP_INIT];
    this.chainable = seg.kind === 'shm';
    this.blocks = new Blocks(this.name);
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
    this.getters = new WaitWord(seg, GET_EPOCH, GET_ADVERT, {
      epoch: true,
      parked: GET_PARKED,
      parkSeq: GET_PARK_SEQ,
      wokeSeq: GET_WOKE_SEQ,
    });
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

  /**
   * The largest payload a frame can ever have: a block of its own when the ring chains blocks, else the whole ring
   * at its largest, less the frame header.
   */
  largestPayload(): number {
    return this.chainable ? BLOCK_MAX_PAYLOAD : this.capacityMax - FRAME_HEADER - LINK_ROOM;
  }

  /** The block of the frame `reserve` returned the offset of (null: the ring); the offset is in its segment. */
  get reservedBlock(): Block | null {
    return this.#resBlock;
  }

  /** The block of the frame `peek` returned the tag of (null: the ring); payloadOffset() is in its segment. */
  get peekedBlock(): Block | null {
    return this.#peekBlock;
  }

  /**
   * Opens a batch of puts, validating the header words the producer relies on: its own and line 0 every time, the
   * consumers' (HEAD, GET_COUNT) when it reads them again (`#seeConsumers`).
   */
  begin(): void {
    const i32 = this.i32;
    const tail = i32[TAIL];
    const put = i32[PUT_COUNT];
    this.#checkHeader(tail, P_INTENT_TAIL);
    this.#pendTail = tail;
    this.#pendCount = put;
    if (!this.#viewP || tail !== this.#leftTail || put !== this.#leftPut) {
      this.#seeConsumers();
      this.#leftTail = tail;
      this.#leftPut = put;
    }
    this.#pendBlock = i32[P_BLOCK];
    this.#pendBpos = i32[P_BLOCK_POS];
    this.#pendLinked = i32[P_LINKED];
    this.#chainMoved = false;
  }

  /**
   * Whether `maxsize` items are in the ring, counting the open batch's unpublished ones (never, unbounded). The
   * view's GET_COUNT can only over-count them; it is read again before the answer is yes.
   */
  fullWithPending(): boolean {
    const max = this.maxsize;
    if (max <= 0 || ((this.#pendCount - this.#seenGot) | 0) < max) return false;
    this.#seeConsumers();
    return ((this.#pendCount - this.#seenGot) | 0) >= max;
  }

  /**
   * GET_COUNT as the producer last read it, no later than the HEAD it last found no room with: a put that found no
   * room waits for GET_COUNT to differ from this (a take since then may have made room).
   */
  takesSeen(): number {
    return this.#seenGot;
  }

  /**
   * Reads the consumers' published line again (GET_COUNT before HEAD, see `takesSeen`) into the producer's view,
   * and validates it against the producer's own words (producer lock held, after `begin()`). HEAD and GET_COUNT
   * move together under the consumer lock (HEAD first), so read here they may disagree: the items-per-byte bound
   * is the consumer's to check.
   */
  #seeConsumers(): void {
    const i32 = this.i32;
    const got = Atomics.load(i32, GET_COUNT);
    const head = Atomics.load(i32, HEAD);
    const tail = i32[TAIL];
    const items = (i32[PUT_COUNT] - got) | 0;
    let word = -1;
    if ((head & 7) !== 0) word = HEAD;
    else if ((tail - head) >>> 0 > i32[CAP]) word = TAIL;
    else if (items < 0 || (this.maxsize > 0 && items > this.maxsize)) word = PUT_COUNT;
    if (word >= 0) this.#markBroken(BROKEN_HEADER | (word << 8));
    this.#seenGot = got;
    this.#seenHead = head;
    this.#viewP = true;
  }

  /** HEAD read again (a step that needs the true free space: growing, realigning, spilling). */
  #headNow(): number {
    const head = Atomics.load(this.i32, HEAD);
    this.#seenHead = head; // HEAD only moves forward: a later value is as safe as the one it replaces
    return head;
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
    if (this.#pendBlock !== 0) {
      // In a chain: items stay in blocks until the ring has room to spare again, then a BACK frame returns.
      if (!this.#ringHasRoomFor(need)) {
        if (this.#capInit > 0) this.#stillNeeded(need);
        return this.#reserveInBlock(need);
      }
      this.#leaveBlock(TAG_BACK, 0);
    }
    this.#resBlock = null;
    let fresh = false; // HEAD read in this reserve (the view's HEAD may be behind: it says "no room" too soon)
    for (;;) {
      const i32 = this.i32;
      const cap = i32[CAP];
      const tail = this.#pendTail >>> 0;
      // LINK_ROOM stays free after every item: a LINK always fits when the ring is full.
      const used = ((tail - (this.#seenHead >>> 0)) >>> 0) + LINK_ROOM;
      const phys = tail & (cap - 1);
      const toEnd = cap - phys;
      if (used + need > this.#capInit && cap > this.#capInit && this.#capInit > 0)
        this.#stillNeeded(need, fresh);
      if (need <= toEnd) {
        if (used + need <= cap) return this.#reserveAt(tail, phys);
      } else if (used + toEnd + need <= cap) {
        // Does not fit before the end: a WRAP frame tells consumers to skip the rest of the region.
        const at = HEADER_BYTES + phys;
        i32[at >> 2] = toEnd;
        i32[(at >> 2) + 1] = frameCheck(tail, toEnd, TAG_WRAP) | TAG_WRAP;
        return this.#reserveAt((tail + toEnd) >>> 0, 0);
      }
      if (!fresh) {
        this.#seeConsumers();
        fresh = true;
        continue;
      }
      if (
        need >= PACE_FRAME &&
        cap >= PACE_FRAMES * need &&
        this.#roomSoon(need, PACE_IDLE_MS, PACE_WAIT_MAX_MS)
      )
        continue;
      const grown = this.#grow(used + toEnd + need);
      if (grown === LOCK_BUSY) return LOCK_BUSY;
      if (grown) continue;
      // At its largest: an empty ring can still be too small at this position (room before the end, and after the
      // wrap, but not both); start again at a multiple of CAP.
      if (used === LINK_ROOM && need + LINK_ROOM <= cap) {
        const realigned = this.#realign(tail, toEnd);
        if (realigned === LOCK_BUSY) return LOCK_BUSY;
        if (realigned) continue;
      }
      if (!this.chainable) return -1;
      const sync = this.#lockDeadline > 0;
      const idleMs = sync ? SPILL_IDLE_MS : SPILL_IDLE_ASYNC_MS;
      if (this.#roomSoon(need, idleMs, sync ? SPILL_WAIT_MAX_MS : SPILL_WAIT_MAX_ASYNC_MS)) continue;
      return this.#reserveInBlock(need);
    }
  }

  /**
   * Before a frame spills into a new block: waits a little for a consumer that is draining the full ring to free
   * room for it. A new block is fresh memory that the producer and then the consumer fault in page by page (on a
   * virtual machine measured at 3-6 ms per MiB, against about 0.1 ms to copy a MiB through the warm ring), so when
   * the consumer keeps taking, following its pace is cheaper than running ahead into blocks. Returns true once
   * the frame fits in the ring; false when HEAD has not moved for longer than a consumer's garbage collection or
   * time slice plus a take of this frame, or after SPILL_WAIT_MAX_MS in all (async puts: shorter bounds): then the
   * frame goes to a block as before. A consumer that has stopped costs a put one such pause per ring-to-block
   * transition, since a producer in a chain stays there until the ring is half free. Also called, with tighter
   * bounds (PACE_*), before a ring that already holds a few frames of this size grows for another.
   */
  #roomSoon(need: number, idleBaseMs: number, maxMs: number): boolean {
    const i32 = this.i32;
    const cap = i32[CAP];
    const idleMs = idleBaseMs + need / SPILL_TAKE_BYTES_PER_MS;
    const start = performance.now();
    let moved = start;
    let head = this.#headNow();
    for (;;) {
      const tail = this.#pendTail >>> 0;
      const used = ((tail - (head >>> 0)) >>> 0) + LINK_ROOM;
      const toEnd = cap - (tail & (cap - 1));
      if (need <= toEnd ? used + need <= cap : used + toEnd + need <= cap) return true;
      const now = performance.now();
      if (now - moved > idleMs || now - start > maxMs) return false;
      this.seg.wait(HEAD, head, SPILL_POLL_MS); // nobody wakes HEAD: a sleep that ends early once it moved
      const h = this.#headNow();
      if (h !== head) {
        head = h;
        moved = performance.now();
      }
    }
  }

  /**
   * A reserve that the initial ring could not hold: the growth is still in use, so the shrink waits (GREW_AT is
   * "last needed at", written under the producer lock; a shrink holds both locks). Every large frame stamps it,
   * small ones every STAMP_EVERY-th time (a clock read costs as much as a small put). Unless `fresh`, the caller
   * measured with the view's HEAD, which over-counts the bytes in use: HEAD is read again before stamping.
   */
  #stillNeeded(need: number, fresh = true): void {
    if (need < STAMP_ALWAYS && --this.#stampIn > 0) return;
    this.#stampIn = STAMP_EVERY;
    if (!fresh) {
      const used = (((this.#pendTail >>> 0) - (this.#headNow() >>> 0)) >>> 0) + LINK_ROOM;
      if (used + need <= this.#capInit) return;
    }
    this.i32[GREW_AT] = tenths();
  }

  // ---------------------------------------------------------------- the chain of blocks (producer lock held)

  /** Whether a producer in a chain may go back to the ring for a frame of `need` bytes: it would stay half free. */
  #ringHasRoomFor(need: number): boolean {
    const i32 = this.i32;
    const used = ((this.#pendTail >>> 0) - (this.#headNow() >>> 0)) >>> 0;
    return used + need + LINK_ROOM <= i32[CAP] >>> 1;
  }

  /** Writes the exit frame (NEXT to block `seq`, or BACK to the ring) at the end of the tail block. */
  #leaveBlock(tag: number, seq: number): void {
    const from = this.blocks.open(this.#pendBlock);
    const pos = this.#pendBpos >>> 0;
    const at = (BLOCK_HEADER + pos) >>> 2;
    from.i32[at] = seq;
    from.i32[at + 1] = blockCheck(from.seq, pos, seq, tag) | tag;
    this.blocks.forget(from.seq); // the producer never writes there again
    this.#pendBlock = 0;
    this.#pendBpos = 0;
    this.#chainMoved = true;
  }

  /** Reserves a frame of `need` bytes in the tail block, or in a new block chained after it (or to the ring). */
  #reserveInBlock(need: number): number {
    const i32 = this.i32;
    if (this.#pendBlock !== 0) {
      const tail = this.blocks.open(this.#pendBlock);
      if ((this.#pendBpos >>> 0) + need + BLOCK_EXIT <= tail.dataSize) return this.#reserveInBlockAt(tail);
    } else {
      // The LINK goes at the ring's tail, into the LINK_ROOM every reserve leaves.
      const used = ((this.#pendTail >>> 0) - (this.#headNow() >>> 0)) >>> 0;
      if (used + FRAME_HEADER > i32[CAP]) return -1;
    }
    // A new block. P_SEQ first: a producer killed from here until the publish leaves a name that recovery removes.
    const before = i32[P_SEQ];
    const seq = nextSeq(before);
    Atomics.store(i32, P_SEQ, seq);
    let block: Block;
    try {
      block = this.blocks.create(seq, Math.max(blockBytes(), need + BLOCK_EXIT));
    } catch (err) {
      Atomics.store(i32, P_SEQ, before); // nothing was created
      throw err;
    }
    if (this.#pendBlock !== 0) {
      this.#leaveBlock(TAG_NEXT, seq);
    } else {
      const tail = this.#pendTail;
      const at = (HEADER_BYTES + (tail & (i32[CAP] - 1))) >> 2;
      i32[at] = seq;
      i32[at + 1] = frameCheck(tail, seq, TAG_LINK) | TAG_LINK;
      this.#pendTail = (tail + FRAME_HEADER) | 0;
    }
    this.#pendBlock = seq;
    this.#pendBpos = 0;
    this.#pendLinked = seq;
    this.#chainMoved = true;
    return this.#reserveInBlockAt(block);
  }

  #reserveInBlockAt(block: Block): number {
    this.#resBlock = block;
    this.#resFrame = this.#pendBpos;
    this.#resOffset = BLOCK_HEADER + (this.#pendBpos >>> 0);
    return this.#resOffset + FRAME_HEADER;
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
      this.#seenHead = next;
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
    const block = this.#resBlock;
    if (block !== null) {
      const at = this.#resOffset >>> 2;
      block.i32[at] = length;
      block.i32[at + 1] = blockCheck(block.seq, this.#resFrame, length, tag) | tag;
      this.#pendBpos = (this.#resFrame + FRAME_HEADER + align8(length)) | 0;
      this.#pendCount = (this.#pendCount + 1) | 0;
      this.#chainMoved = true;
      return;
    }
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
    if (this.#chainMoved) {
      this.#flushChain();
      return;
    }
    if (this.#pendCount === i32[PUT_COUNT]) return;
    // Plain stores are enough for the journal: the seq-cst store of PUT_COUNT orders them (V8 does not move plain
    // stores across an atomic one, and x86 keeps stores in order), and a lock taken over is taken by a CAS.
    i32[P_INTENT_CNT] = this.#pendCount;
    i32[P_INTENT_TAIL] = this.#pendTail; // the journal: replayed if this producer dies from here on
    i32[TAIL] = this.#pendTail;
    Atomics.store(i32, PUT_COUNT, this.#pendCount); // the publish point
    i32[P_INTENT_TAIL] = NO_INTENT;
    this.#leftTail = this.#pendTail;
    this.#leftPut = this.#pendCount;
  }

  /** `flush` of a batch that moved the producer's block words: they are journaled and published with the rest. */
  #flushChain(): void {
    const i32 = this.i32;
    i32[P_INTENT_CNT] = this.#pendCount;
    i32[P_INTENT_BPOS] = this.#pendBpos;
    i32[P_INTENT_LINKED] = this.#pendLinked;
    i32[P_INTENT_BLOCK] = this.#pendBlock;
    i32[P_INTENT_TAIL] = this.#pendTail; // the journal: replayed if this producer dies from here on
    i32[TAIL] = this.#pendTail;
    i32[P_BLOCK] = this.#pendBlock;
    i32[P_BLOCK_POS] = this.#pendBpos;
    i32[P_LINKED] = this.#pendLinked;
    Atomics.store(i32, PUT_COUNT, this.#pendCount); // the publish point
    i32[P_INTENT_BLOCK] = NO_INTENT; // before P_INTENT_TAIL: a journal without it replays TAIL and PUT_COUNT only
    i32[P_INTENT_TAIL] = NO_INTENT;
    this.#chainMoved = false;
    this.#leftTail = this.#pendTail;
    this.#leftPut = this.#pendCount;
  }

  /** Grows the data region (doubling) until `bytesNeeded` fit. Takes the consumer lock. */
  #grow(bytesNeeded: number): boolean | typeof LOCK_BUSY {
    const i32 = this.i32;
    const cap = i32[CAP];
    let newCap = cap * 2;
    while (newCap < bytesNeeded) newCap *= 2;
    if (newCap > this.capacityMax) return false;
    try {
      this.seg.commit(HEADER_BYTES + cap, newCap - cap); // before touching: a full /dev/shm is an Error here
    } catch (err) {
      throw noSpaceError(err, newCap - cap, 'growing the ring of the queue');
    }
    if (!this.consumerLock.acquireSync(this.#lockDeadline)) return LOCK_BUSY;
    try {
      const head = this.#headNow() >>> 0;
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
    if (this.#chained() && this.size() === 0) return 0;
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
        this.dropDrainedChain();
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

  /**
   * Opens a batch of takes, validating the header words the consumer relies on: its own and line 0 every time, the
   * producers' (PUT_COUNT, TAIL) when it reads them again (`#seeProducers`).
   */
  beginTake(): void {
    const i32 = this.i32;
    const head = i32[HEAD];
    const got = i32[GET_COUNT];
    this.#checkHeader(head, C_INTENT_HEAD);
    this.#takeHead = head;
    this.#takeCount = got;
    this.#takeBlock = i32[C_BLOCK];
    this.#takeBpos = i32[C_BLOCK_POS];
    this.#takeDone = i32[C_DONE];
    this.#takeMoved = false;
    if (!this.#viewC || head !== this.#leftHead || got !== this.#leftGot) {
      this.#seeProducers();
      this.#leftHead = head;
      this.#leftGot = got;
    }
  }

  /**
   * Items published and not yet taken, counting the open batch's takes as taken. The view's PUT_COUNT can only
   * under-count them; it is read again when it shows none.
   */
  available(): number {
    const n = (this.#seenPut - this.#takeCount) | 0;
    return n > 0 ? n : this.#seeProducers();
  }

  /**
   * Whether the queue may hold an item, before taking the consumer lock: yes when this handle's view shows one
   * past its last take (another consumer may have taken it since: the take then finds none), else from the
   * counters now.
   */
  mayHaveItems(): boolean {
    return ((this.#seenPut - this.#leftGot) | 0) > 0 || this.size() > 0;
  }

  /** Whether this handle's last take left the queue empty as far as it saw (a drained ring may shrink). */
  drainedAsSeen(): boolean {
    return this.#seenPut === this.#leftGot;
  }

  /**
   * Reads the producers' published line again into the consumer's view (consumer lock held, after `beginTake()`),
   * validates it against the consumer's own words, and returns the items available. PUT_COUNT before TAIL: a
   * producer moves TAIL first, so the pair never shows more items than bytes, and every frame counted lies before
   * that TAIL (`#peekInRing` reads no further).
   */
  #seeProducers(): number {
    const i32 = this.i32;
    const put = Atomics.load(i32, PUT_COUNT);
    const tail = Atomics.load(i32, TAIL);
    const head = i32[HEAD];
    const bytes = (tail - head) >>> 0;
    const items = (put - i32[GET_COUNT]) | 0;
    let word = -1;
    if ((tail & 7) !== 0 || bytes > i32[CAP]) word = TAIL;
    else if (
      items < 0 ||
      (this.maxsize > 0 && items > this.maxsize) ||
      // Items in blocks take no ring bytes: the bound holds only when every linked block has been read.
      (items > bytes / FRAME_HEADER && i32[C_BLOCK] === 0 && Atomics.load(i32, P_LINKED) === i32[C_DONE])
    )
      word = PUT_COUNT;
    else if (seqGap(i32[C_DONE], Atomics.load(i32, P_LINKED)) > MAX_SEQ_GAP) word = C_DONE;
    if (word >= 0) this.#markBroken(BROKEN_HEADER | (word << 8));
    this.#seenPut = put;
    this.#seenTail = tail;
    this.#viewC = true;
    return (put - this.#takeCount) | 0;
  }

  /** The next frame's tag; its payload is `payloadLength()` bytes at `payloadOffset()`. Requires `available() > 0`. */
  peek(): number {
    for (;;) {
      if (this.#takeBlock !== 0) {
        const tag = this.#peekInBlock();
        if (tag >= 0) return tag;
        continue; // a BACK frame: on in the ring
      }
      const tag = this.#peekInRing();
      if (tag >= 0) return tag;
      // a LINK frame: on in its block
    }
  }

  /** The next frame of the ring (after a WRAP); -1 when it is a LINK, which it follows. */
  #peekInRing(): number {
    const i32 = this.i32;
    const cap = i32[CAP];
    let head = this.#takeHead >>> 0;
    // Published bytes ahead: the view's TAIL was read after its PUT_COUNT, so it covers every frame available()
    // counted.
    let ahead = (this.#seenTail - head) >>> 0;
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
    if (tag === TAG_LINK) {
      if (
        (word & ~TAG_MASK) !== frameCheck(head, len, TAG_LINK) ||
        FRAME_HEADER > Math.min(cap - phys, ahead) ||
        !this.chainable ||
        len === 0 ||
        len === NO_INTENT
      ) {
        this.#markBroken(BROKEN_FRAME);
      }
      this.#takeHead = (head + FRAME_HEADER) | 0;
      this.#enterBlock(len);
      return -1;
    }
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
    this.#peekBlock = null;
    this.#peekAt = at << 2;
    this.#peekLen = len;
    this.#peekNext = (head + FRAME_HEADER + align8(len)) | 0;
    return tag;
  }

  /** The consumer moves on to block `seq` (after a LINK or NEXT frame). */
  #enterBlock(seq: number): void {
    if (this.#takeBlock !== 0) this.#takeDone = this.#takeBlock;
    this.#takeBlock = seq;
    this.#takeBpos = 0;
    this.#takeMoved = true;
  }

  /** Block `seq` for reading: a missing or wrong block breaks the queue. */
  #openBlock(seq: number): Block {
    try {
      return this.blocks.open(seq);
    } catch (err) {
      this.#markBroken(BROKEN_BLOCK, true, err);
    }
  }

  /**
   * How far frames may reach in block `block`: the producer's published end while it still writes there (read
   * P_BLOCK_POS first: a producer stores P_BLOCK before P_BLOCK_POS, so a position read first and a block read
   * second never pair a new position with an old block), else the block's data.
   */
  #blockLimit(block: Block): number {
    const pos = Atomics.load(this.i32, P_BLOCK_POS) >>> 0;
    return Atomics.load(this.i32, P_BLOCK) === block.seq ? Math.min(pos, block.dataSize) : block.dataSize;
  }

  /** The next frame of the consumer's block; -1 when it is a BACK (followed); NEXT frames are followed. */
  #peekInBlock(): number {
    for (;;) {
      const block = this.#openBlock(this.#takeBlock);
      const pos = this.#takeBpos >>> 0;
      const limit = this.#blockLimit(block);
      const at = (BLOCK_HEADER + pos) >>> 2;
      if ((pos & 7) !== 0 || pos + FRAME_HEADER > block.dataSize) this.#markBroken(BROKEN_FRAME);
      const len = block.i32[at];
      const word = block.i32[at + 1];
      const tag = word & TAG_MASK;
      if ((word & ~TAG_MASK) !== blockCheck(block.seq, pos, len, tag)) this.#markBroken(BROKEN_FRAME);
      if (tag === TAG_NEXT || tag === TAG_BACK) {
        if (tag === TAG_NEXT ? len === 0 || len === NO_INTENT || len === block.seq : len !== 0)
          this.#markBroken(BROKEN_FRAME);
        if (tag === TAG_NEXT) {
          this.#enterBlock(len);
          continue;
        }
        this.#takeDone = block.seq;
        this.#takeBlock = 0;
        this.#takeBpos = 0;
        this.#takeMoved = true;
        return -1;
      }
      const allowed = TAG_LENGTH[tag];
      if (
        allowed === undefined ||
        len < 0 ||
        pos + FRAME_HEADER + align8(len) > limit ||
        (allowed >= 0 ? len !== allowed : allowed === -2 && (len & 1) !== 0)
      ) {
        this.#markBroken(BROKEN_FRAME);
      }
      this.#peekBlock = block;
      this.#peekAt = at << 2;
      this.#peekLen = len;
      this.#peekNext = pos + FRAME_HEADER + align8(len);
      return tag;
    }
  }

  payloadOffset(): number {
    return this.#peekAt + FRAME_HEADER;
  }

  payloadLength(): number {
    return this.#peekLen;
  }

  /** Marks the peeked frame as taken (its payload copied out); it is released by `commitTake()`. */
  next(): void {
    if (this.#peekBlock !== null) {
      this.#takeBpos = this.#peekNext;
      this.#takeMoved = true;
    } else {
      this.#takeHead = this.#peekNext;
    }
    this.#takeCount = (this.#takeCount + 1) | 0;
  }

  /** Releases every frame taken since `beginTake()`, in one step. */
  commitTake(): void {
    const i32 = this.i32;
    if (this.#takeMoved) {
      this.#commitChain();
      return;
    }
    if (this.#takeCount === i32[GET_COUNT]) return;
    i32[C_INTENT_CNT] = this.#takeCount;
    i32[C_INTENT_HEAD] = this.#takeHead; // the journal (plain stores: see flush)
    Atomics.store(i32, HEAD, this.#takeHead);
    Atomics.store(i32, GET_COUNT, this.#takeCount); // the take point
    i32[C_INTENT_HEAD] = NO_INTENT;
    this.#leftHead = this.#takeHead;
    this.#leftGot = this.#takeCount;
  }

  /** `commitTake` of a batch that moved the consumer's block words; then removes the blocks it has finished. */
  #commitChain(): void {
    const i32 = this.i32;
    i32[C_INTENT_CNT] = this.#takeCount;
    i32[C_INTENT_BPOS] = this.#takeBpos;
    i32[C_INTENT_DONE] = this.#takeDone;
    i32[C_INTENT_BLOCK] = this.#takeBlock;
    i32[C_INTENT_HEAD] = this.#takeHead; // the journal (plain stores: see flush)
    Atomics.store(i32, HEAD, this.#takeHead);
    i32[C_BLOCK] = this.#takeBlock;
    i32[C_BLOCK_POS] = this.#takeBpos;
    i32[C_DONE] = this.#takeDone;
    Atomics.store(i32, GET_COUNT, this.#takeCount); // the take point
    i32[C_INTENT_BLOCK] = NO_INTENT; // before C_INTENT_HEAD, as in #flushChain
    i32[C_INTENT_HEAD] = NO_INTENT;
    this.#takeMoved = false;
    this.#leftHead = this.#takeHead;
    this.#leftGot = this.#takeCount;
    this.#freeFinished();
  }

  /**
   * Removes the blocks the consumer has finished and not yet removed: (C_FREED, C_DONE]. Every block linked with a
   * number in that range has been read to its exit frame (blocks are numbered in the order they are linked, and
   * read in that order); numbers never linked (a producer killed before its publish) are already gone.
   */
  #freeFinished(): void {
    const i32 = this.i32;
    const done = i32[C_DONE];
    let seq = i32[C_FREED];
    if (seq === done) return;
    if (seqGap(seq, done) > MAX_SEQ_GAP) {
      this.#markBroken(BROKEN_HEADER | (C_FREED << 8), false);
      return;
    }
    while (seq !== done) {
      seq = nextSeq(seq);
      this.blocks.unlink(seq);
    }
    i32[C_FREED] = done;
  }

  /** Whether the producer or the consumer is in a block (a drained queue then holds a block `dropDrainedChain` removes). */
  #chained(): boolean {
    const i32 = this.i32;
    return i32[P_BLOCK] !== 0 || i32[C_BLOCK] !== 0;
  }

  /**
   * An empty queue whose producer still writes in a block gives it back (both locks held, `begin` and
   * `beginTake` done): the producer leaves it with a BACK frame (published as any batch), then the consumer
   * follows it (committed as any take), which removes the block. Each step is journaled, so a process killed in
   * between leaves the queue as if it had stopped between two operations.
   */
  dropDrainedChain(): void {
    if (this.size() !== 0) return;
    if (this.#pendBlock !== 0) {
      this.#leaveBlock(TAG_BACK, 0);
      this.flush();
    }
    while (this.#takeBlock !== 0) {
      const block = this.#openBlock(this.#takeBlock);
      const limit = this.#blockLimit(block);
      if ((this.#takeBpos >>> 0) + FRAME_HEADER > limit && Atomics.load(this.i32, P_BLOCK) === block.seq)
        break;
      if (this.#peekInBlock() >= 0) this.#markBroken(BROKEN_FRAME); // an item in an empty queue
    }
    this.commitTake();
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
   * Checks the header words an operation relies on that are not the other side's (the lock of side `journal`
   * held; see layout.ts, Validation): line 0, this side's published position `pos` and its journal and chain
   * words. The other side's published words are checked when they are read (`#seeConsumers`, `#seeProducers`).
   */
  #checkHeader(pos: number, journal: typeof P_INTENT_TAIL | typeof C_INTENT_HEAD): void {
    const i32 = this.i32;
    const cap = i32[CAP];
    let word = -1;
    if (Atomics.load(i32, BROKEN) !== 0) throw this.brokenError();
    else if (i32[MAGIC] !== MAGIC_VALUE) word = MAGIC;
    else if (i32[MAXSIZE] !== this.maxsize) word = MAXSIZE;
    else if (i32[CAP_MAX] !== this.capacityMax) word = CAP_MAX;
    else if (cap < MIN_CAPACITY || cap > this.capacityMax || (cap & (cap - 1)) !== 0) word = CAP;
    else if ((pos & 7) !== 0) word = journal === C_INTENT_HEAD ? HEAD : TAIL;
    else if (i32[journal] !== NO_INTENT) word = journal;
    else if (Atomics.load(i32, SHUTDOWN) >>> 0 > 2) word = SHUTDOWN;
    else word = journal === C_INTENT_HEAD ? this.#checkConsumerChain() : this.#checkProducerChain();
    if (word >= 0) this.#markBroken(BROKEN_HEADER | (word << 8));
  }

  /** The producer's block words (producer lock held, between batches): the first broken one, or -1. */
  #checkProducerChain(): number {
    const i32 = this.i32;
    const block = i32[P_BLOCK];
    if (i32[P_INTENT_BLOCK] !== NO_INTENT) return P_INTENT_BLOCK;
    if (i32[P_SEQ] !== i32[P_LINKED]) return P_SEQ; // names created and never linked are removed by recovery
    if (block !== 0 && (block !== i32[P_LINKED] || !this.chainable)) return P_BLOCK; // the tail block is the last linked
    if ((i32[P_BLOCK_POS] & 7) !== 0 || (block === 0 && i32[P_BLOCK_POS] !== 0)) return P_BLOCK_POS;
    return -1;
  }

  /** The consumer's block words (consumer lock held, between batches): the first broken one, or -1. */
  #checkConsumerChain(): number {
    const i32 = this.i32;
    const block = i32[C_BLOCK];
    const done = i32[C_DONE];
    if (i32[C_INTENT_BLOCK] !== NO_INTENT) return C_INTENT_BLOCK;
    if (i32[C_FREED] !== done) return C_FREED; // finished blocks are removed by the commit, or by recovery
    if (block !== 0 && (seqGap(done, block) === 0 || seqGap(done, block) > MAX_SEQ_GAP || !this.chainable))
      return C_BLOCK;
    if ((i32[C_BLOCK_POS] & 7) !== 0 || (block === 0 && i32[C_BLOCK_POS] !== 0)) return C_BLOCK_POS;
    return -1;
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
    this.#replayProducer();
    this.#removeUnlinked();
  }

  /**
   * Removes the blocks a dead producer created and never published, (P_LINKED, P_SEQ], and makes P_SEQ the last
   * linked number again (those numbers are free once their names are gone).
   */
  #removeUnlinked(): void {
    const i32 = this.i32;
    const linked = i32[P_LINKED];
    let seq = linked;
    const last = i32[P_SEQ];
    if (seq === last || Atomics.load(i32, BROKEN) !== 0) return;
    if (seqGap(seq, last) > MAX_SEQ_GAP) {
      this.#markBroken(BROKEN_HEADER | (P_SEQ << 8), false);
      return;
    }
    while (seq !== last) {
      seq = nextSeq(seq);
      this.blocks.unlink(seq);
    }
    i32[P_SEQ] = linked;
  }

  #replayProducer(): void {
    const i32 = this.i32;
    const tail = Atomics.load(i32, P_INTENT_TAIL);
    if (tail === NO_INTENT) {
      // died before journaling: its half-written frames lie past TAIL (and past P_BLOCK_POS), unpublished
      i32[P_INTENT_BLOCK] = NO_INTENT;
      return;
    }
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
    const block = i32[P_INTENT_BLOCK];
    if (block !== NO_INTENT) {
      i32[P_BLOCK] = block;
      i32[P_BLOCK_POS] = i32[P_INTENT_BPOS];
      i32[P_LINKED] = i32[P_INTENT_LINKED];
    }
    Atomics.store(i32, PUT_COUNT, i32[P_INTENT_CNT]);
    Atomics.store(i32, P_INTENT_BLOCK, NO_INTENT);
    Atomics.store(i32, P_INTENT_TAIL, NO_INTENT);
    this.getters.broadcast();
  }

  #recoverConsumer(): void {
    this.#replayConsumer();
    if (Atomics.load(this.i32, BROKEN) === 0) this.#freeFinished();
  }

  #replayConsumer(): void {
    const i32 = this.i32;
    const head = Atomics.load(i32, C_INTENT_HEAD);
    if (head === NO_INTENT) {
      // died before journaling: the frame it was copying is still at HEAD (or C_BLOCK_POS)
      i32[C_INTENT_BLOCK] = NO_INTENT;
      return;
    }
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
    const block = i32[C_INTENT_BLOCK];
    if (block !== NO_INTENT) {
      i32[C_BLOCK] = block;
      i32[C_BLOCK_POS] = i32[C_INTENT_BPOS];
      i32[C_DONE] = i32[C_INTENT_DONE];
    }
    Atomics.store(i32, GET_COUNT, i32[C_INTENT_CNT]);
    Atomics.store(i32, C_INTENT_BLOCK, NO_INTENT);
    Atomics.store(i32, C_INTENT_HEAD, NO_INTENT);
    this.putters.broadcast();
  }
}
