/**
 * A queue's overflow blocks (crossbeam's list channel chains blocks the same way): segments that hold the frames
 * the ring has no room for, chained to it by LINK frames and to each other by NEXT frames (layout.ts draws the
 * header words that say where the producer and the consumer are, and the invariants).
 *
 * A block is named after its ring and its sequence number, `<ring name>-<seq in hex>`, so a LINK or NEXT frame
 * carries only the number. Its segment:
 *
 * ```
 *  word  name         written by          how
 *  ----  -----------  ------------------  ------------------------------------------
 *   0    BLOCK_MAGIC  creating producer   never changes after creation
 *   1    seq          creating producer   never changes
 *   2    data bytes   creating producer   never changes
 *  ...   reserved up to BLOCK_HEADER; frames from there on, each `[u32 length][u32 check | tag][payload]`
 * ```
 *
 * Frame positions inside a block start at 0 and never wrap; the last 8 bytes of the data are kept free so that a
 * NEXT or BACK frame always fits after the last item. Each process maps a block once and drops it when its side
 * has left it (the consumer also gives the pages back at once: see `unlink`).
 */

import type { FastBuffer } from '../codec/frames.js';
import { InvariantError } from '../errors.js';
import { createBlockSegment, openBlockSegment, type ShmSegment, unlinkSegmentName } from '../memory/index.js';

export const BLOCK_MAGIC = 0x70716231; // 'pqb1'
export const BLOCK_HEADER = 64;
/** Data bytes of a block for items that fit in it (a larger item gets a block of its own, sized to it). */
export const BLOCK_BYTES = 16 << 20;

/** BLOCK_BYTES, or PROCQ_TEST_BLOCK_BYTES (tests only: small blocks, so that tests chain many of them cheaply). */
export function blockBytes(): number {
  const n = Number(process.env.PROCQ_TEST_BLOCK_BYTES ?? 0);
  return Number.isInteger(n) && n >= 64 && n % 8 === 0 ? n : BLOCK_BYTES;
}
/** Room kept at the end of every block for the NEXT or BACK frame that leaves it. */
export const BLOCK_EXIT = 8;
/** The largest payload a block frame may carry (lengths are read as signed 32-bit words). */
export const BLOCK_MAX_PAYLOAD = 2 ** 31 - 4096;
/** A gap of sequence numbers larger than this between two header words is corruption. */
export const MAX_SEQ_GAP = 1 << 20;

/** The sequence number after `seq` (u32; 0 and 0xffffffff, which mean "none" in the header words, are skipped). */
export function nextSeq(seq: number): number {
  let s = (seq + 1) >>> 0;
  while (s === 0 || s === 0xffffffff) s = (s + 1) >>> 0;
  return s | 0;
}

/** Distance from `from` to `to` in sequence numbers (u32). */
export function seqGap(from: number, to: number): number {
  return (to - from) >>> 0;
}

export class Block {
  readonly seq: number;
  readonly seg: ShmSegment;
  readonly i32: Int32Array;
  readonly mem: FastBuffer;
  readonly f64: Float64Array;
  /** Bytes of frames the block can hold (BLOCK_EXIT of them kept for the exit frame). */
  readonly dataSize: number;

  constructor(seq: number, seg: ShmSegment) {
    this.seq = seq;
    this.seg = seg;
    this.i32 = seg.i32;
    this.mem = seg.bytes as FastBuffer;
    this.f64 = new Float64Array(seg.bytes.buffer, seg.bytes.byteOffset, seg.byteLength >>> 3);
    this.dataSize = seg.byteLength - BLOCK_HEADER;
  }
}

/** The blocks of one ring that this thread has mapped, by sequence number. */
export class Blocks {
  readonly #ringName: string;
  readonly #mapped = new Map<number, Block>();

  constructor(ringName: string) {
    this.#ringName = ringName;
  }

  nameOf(seq: number): string {
    return `${this.#ringName}-${(seq >>> 0).toString(16)}`;
  }

  /** Creates block `seq` with room for `dataBytes` of frames. SharedMemoryFull when /dev/shm has no room. */
  create(seq: number, dataBytes: number): Block {
    const size = Math.ceil((BLOCK_HEADER + dataBytes) / 4096) * 4096;
    const seg = createBlockSegment(this.nameOf(seq), size);
    seg.i32[1] = seq;
    seg.i32[2] = size - BLOCK_HEADER;
    Atomics.store(seg.i32, 0, BLOCK_MAGIC);
    const block = new Block(seq, seg);
    this.#mapped.set(seq, block);
    return block;
  }

  /** Block `seq`, mapped on first use. InvariantError when it is missing or is not that block. */
  open(seq: number): Block {
    const known = this.#mapped.get(seq);
    if (known !== undefined) return known;
    let seg: ShmSegment;
    try {
      seg = openBlockSegment(this.nameOf(seq));
    } catch (err) {
      throw new InvariantError(`block ${this.nameOf(seq)} of the queue cannot be mapped`, { cause: err });
    }
    const i32 = seg.i32;
    if (
      seg.byteLength < BLOCK_HEADER + BLOCK_EXIT ||
      Atomics.load(i32, 0) !== BLOCK_MAGIC ||
      i32[1] !== seq ||
      i32[2] !== seg.byteLength - BLOCK_HEADER
    ) {
      throw new InvariantError(`block ${this.nameOf(seq)} of the queue has a wrong header`);
    }
    const block = new Block(seq, seg);
    this.#mapped.set(seq, block);
    return block;
  }

  /** Drops this thread's mapping of block `seq` (unmapped when collected). */
  forget(seq: number): void {
    this.#mapped.delete(seq);
  }

  /**
   * Removes block `seq` for good: its name, its pages (given back now, even while other processes still map it,
   * since nobody reads a block the consumer has left) and this thread's mapping. A block already gone is fine.
   */
  unlink(seq: number): void {
    let block = this.#mapped.get(seq);
    this.#mapped.delete(seq);
    if (block === undefined) {
      try {
        block = new Block(seq, openBlockSegment(this.nameOf(seq)));
      } catch {
        // already gone
      }
    }
    try {
      unlinkSegmentName(this.nameOf(seq));
    } catch {
      // not ours to remove (EACCES): left to the tracker
    }
    block?.seg.release(0, block.seg.byteLength);
  }
}
