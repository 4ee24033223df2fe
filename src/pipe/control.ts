/**
 * A pipe's control words: who holds each end, so that an end is closed when its last holder is gone (as a pipe's
 * write end is closed when the last file descriptor for it is).
 *
 * A `Connection` object is one holder. Passing it to another thread or process (in `Process` args, inside a queue
 * item) makes a new holder there, as passing a file descriptor duplicates it: the end stays open until every
 * holder has closed it, ended (its thread or process died), or been garbage-collected.
 *
 * ```
 *  word                  written by                         invariant
 *  +0 KIND               creator                            KIND_PIPE, never changes (stored last)
 *  +1 DUPLEX             creator                            1 duplex, 0 one-way; never changes
 *  +2 +3                 reserved (0)
 *  +4 + e*H + i          HOLDER i of end e (e = 0, 1):      0 free; else the ownerWord() (wait/identity.ts: tid
 *                        a holder (CAS 0 -> w, w -> 0);     and start-time TAG) of the thread that holds it, or of
 *                        a receiver (CAS sender -> own w);  the thread that sent a copy not yet attached (a copy in
 *                        anyone who finds w dead (w -> 0)   flight is held by its sender until the receiver takes
 *                                                           it over)
 * ```
 * The end is closed (its rings shut down, connection.ts) by whoever frees a slot and then finds all H slots of
 * that end free. Every change is a CAS, so two threads never own one slot. A holder is named as a lock's owner is
 * (tid and start-time TAG), so a dead holder whose tid the kernel gave to another thread since is still found dead.
 */
import type { Segment } from '../memory/segment.js';
import { allocate, checkKind, publishKind } from '../sync/core.js';
import { ownerLives, ownerWord } from '../wait/identity.js';

export const KIND_PIPE = 0x70710010;
const DUPLEX = 1;
const HOLDERS = 4;
/** Most holders (Connection objects alive in any thread or process, plus copies in flight) of one end. */
export const MAX_HOLDERS = 64;
const H = MAX_HOLDERS;
const WORDS = HOLDERS + 2 * H;

export class Control {
  readonly seg: Segment;
  readonly i32: Int32Array;

  constructor(seg: Segment) {
    checkKind(seg, 0, KIND_PIPE, 'Connection');
    this.seg = seg;
    this.i32 = seg.i32;
  }

  /** A new control segment, each end held once by the calling thread (slot 0). */
  static create(duplex: boolean): Control {
    const seg = allocate(WORDS);
    seg.i32[DUPLEX] = duplex ? 1 : 0;
    const me = ownerWord();
    seg.i32[HOLDERS] = me;
    seg.i32[HOLDERS + H] = me;
    publishKind({ seg, base: 0 }, KIND_PIPE);
    return new Control(seg);
  }

  get duplex(): boolean {
    return this.i32[DUPLEX] === 1;
  }

  #word(end: number, slot: number): number {
    return HOLDERS + end * H + slot;
  }

  /** Takes a free slot of `end` for holder word `id` (default: this thread's); -1 when all are taken. */
  take(end: number, id = ownerWord()): number {
    for (let i = 0; i < H; i++) {
      if (Atomics.compareExchange(this.i32, this.#word(end, i), 0, id) === 0) return i;
    }
    return -1;
  }

  /** Moves slot `slot` of `end` from `from` (the sender) to this thread. False when it no longer holds `from`. */
  takeOver(end: number, slot: number, from: number): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= H) return false;
    return Atomics.compareExchange(this.i32, this.#word(end, slot), from, ownerWord()) === from;
  }

  /** Frees a slot this holder owns. */
  free(end: number, slot: number): void {
    Atomics.store(this.i32, this.#word(end, slot), 0);
  }

  /** Frees the slots of `end` whose holder is dead (a no-op where liveness cannot be told). */
  sweep(end: number): void {
    for (let i = 0; i < H; i++) {
      const w = this.#word(end, i);
      const id = Atomics.load(this.i32, w);
      if (id !== 0 && ownerLives(id, 0) === false) Atomics.compareExchange(this.i32, w, id, 0);
    }
  }

  /** Whether any slot of `end` is taken. */
  held(end: number): boolean {
    for (let i = 0; i < H; i++) if (Atomics.load(this.i32, this.#word(end, i)) !== 0) return true;
    return false;
  }
}
