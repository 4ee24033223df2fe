/**
 * How one item becomes one frame, and back. Strings, numbers, byte arrays and the small constants take fast
 * paths written straight into (and read straight out of) shared memory; everything else is encoded by
 * `encodeValue` (structured clone + procq handles) *before* the producer takes its lock, and decoded *after* the
 * consumer releases its lock (as CPython pickles outside its locks).
 */

import { LARGE_ITEM, largeAllocated, sawLargeItem } from '../memory/allocator.js';
import { decodeValue, encodeValue } from './index.js';
import { decodePlain, encodePlainInPlace, plainScratch, plainScratchWords } from './plain.js';
import {
  TAG_ASCII,
  TAG_BUFFER,
  TAG_CUSTOM,
  TAG_FALSE,
  TAG_NULL,
  TAG_NUMBER,
  TAG_PLAIN,
  TAG_TRUE,
  TAG_UINT8,
  TAG_UNDEFINED,
  TAG_UTF8,
  TAG_UTF16,
  TAG_V8,
  TAG_V8_HANDLES,
} from './tags.js';

/**
 * Node's Buffer has undocumented, stable, unchecked forms of `write`/`toString` (`utf8Write`, `utf8Slice`,
 * `latin1Slice`) that skip argument normalisation; on the hot path that is a measurable part of a small put.
 */
export interface FastBuffer extends Buffer {
  utf8Write(s: string, offset: number, maxLength: number): number;
  ucs2Write(s: string, offset: number, maxLength: number): number;
  ucs2Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, maxLength: number): number;
  latin1Slice(start: number, end: number): string;
}

/** A user codec for a queue's items (`new Queue(0, { codec })`): replaces structured clone for every item. */
export interface Codec<T> {
  encode(item: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** Strings up to this many UTF-16 units are written in place (worst case 3 bytes each); longer ones are encoded first. */
export const INLINE_STRING_MAX = 1 << 14;

/**
 * An item prepared outside the lock: `tag` and the exact or maximal payload length, plus what to copy.
 * One object is reused per queue handle for the fast paths, so a put allocates nothing for them.
 */
export class Prepared {
  tag = 0;
  /** Upper bound of payload bytes (exact except for inline strings; exact whenever `bytes` is set). */
  maxLength = 0;
  str = '';
  num = 0;
  /** The payload is its `maxLength` bytes from `from` (more when `borrowed`). */
  bytes: Uint8Array | null = null;
  /** Where the payload starts in `bytes`: not 0 when it shares a batch's `Arena` with other items. */
  from = 0;
  /** `bytes` is the plain codec's scratch buffer: valid only until the next encoding in this thread. */
  borrowed = false;
  /** When borrowed: the scratch as 32-bit words (the same memory), for a copy four bytes at a time. */
  words: Int32Array | null = null;
}

/**
 * A copy of `p` that owns its bytes (copied when they were borrowed): for a put that must wait, while other puts
 * may reuse `p` and other encodings the scratch.
 */
export function detached(p: Prepared): Prepared {
  const q = new Prepared();
  q.tag = p.tag;
  q.maxLength = p.maxLength;
  q.str = p.str;
  q.num = p.num;
  q.bytes = p.borrowed && p.bytes !== null ? Buffer.from(p.bytes.subarray(0, p.maxLength)) : p.bytes;
  q.from = p.borrowed ? 0 : p.from;
  return q;
}

/** The first arena of a batch, and the largest one it grows to. */
const ARENA_FIRST = 4096;
const ARENA_MAX = 256 * 1024;

/**
 * Where the plain-object items of one batch (`putMany`) keep their encoded bytes until they are written: one
 * buffer for many items instead of a fresh Buffer each (which, with the garbage it makes, was 15-20% of a job
 * producer's CPU). An arena belongs to one batch: its items may wait for room while other puts encode.
 */
export class Arena {
  #buf: Buffer | null = null;
  #pos = 0;
  /** Where `keep` put the last bytes in the buffer it returned. */
  last = 0;

  /** Copies the first `n` bytes of `src` in; returns the buffer that holds them, at `this.last`. */
  keep(src: Buffer, n: number): Buffer {
    let buf = this.#buf;
    if (buf === null || this.#pos + n > buf.length) {
      const size = buf === null ? ARENA_FIRST : Math.min(ARENA_MAX, buf.length * 2);
      // A fresh buffer: the older one stays with the items already kept in it.
      buf = this.#buf = Buffer.allocUnsafeSlow(Math.max(size, n));
      this.#pos = 0;
    }
    const at = this.#pos;
    if (n <= SMALL_COPY) for (let i = 0; i < n; i++) buf[at + i] = src[i]!;
    else src.copy(buf, at, 0, n);
    this.#pos = at + n;
    this.last = at;
    return buf;
  }
}

/** Whether `item` takes a fast path (no structured clone): preparing it cannot throw and allocates nothing. */
export function isFastItem(item: unknown): boolean {
  switch (typeof item) {
    case 'string':
      return item.length <= INLINE_STRING_MAX;
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object':
      return (
        item === null ||
        (item instanceof Uint8Array && (item.constructor === Uint8Array || item.constructor === Buffer))
      );
  }
  return false;
}

/**
 * Fills `p` for `item`; throws TypeError (queue unchanged) for what cannot be cloned. With `borrow`, a plain
 * object's bytes stay in the codec's scratch buffer (no allocation, no copy): the caller writes them to the ring
 * before anything else encodes in this thread, or takes `owned(p)`.
 */
export function prepare(
  item: unknown,
  p: Prepared,
  codec: Codec<any> | undefined,
  borrow = false,
  arena: Arena | null = null,
): void {
  p.bytes = null;
  p.from = 0;
  p.borrowed = false;
  p.words = null;
  if (codec !== undefined) {
    const bytes = codec.encode(item);
    if (!(bytes instanceof Uint8Array))
      throw new TypeError('the queue codec must return a Uint8Array from encode()');
    p.tag = TAG_CUSTOM;
    p.bytes = bytes;
    p.maxLength = bytes.byteLength;
    return;
  }
  switch (typeof item) {
    case 'string':
      // Non-ASCII strings travel as UTF-16 code units, so lone surrogates survive as with structured clone.
      if (item.length <= INLINE_STRING_MAX) {
        p.tag = TAG_UTF16;
        p.str = item;
        p.maxLength = item.length * 2;
      } else {
        const ascii = Buffer.byteLength(item, 'utf8') === item.length;
        const b = Buffer.from(item, ascii ? 'latin1' : 'utf16le');
        p.tag = ascii ? TAG_ASCII : TAG_UTF16;
        p.bytes = b;
        p.maxLength = b.length;
      }
      return;
    case 'number':
      p.tag = TAG_NUMBER;
      p.num = item;
      p.maxLength = 8;
      return;
    case 'undefined':
      p.tag = TAG_UNDEFINED;
      p.maxLength = 0;
      return;
    case 'boolean':
      p.tag = item ? TAG_TRUE : TAG_FALSE;
      p.maxLength = 0;
      return;
  }
  if (item === null) {
    p.tag = TAG_NULL;
    p.maxLength = 0;
    return;
  }
  if (item instanceof Uint8Array && (item.constructor === Uint8Array || item.constructor === Buffer)) {
    p.tag = item instanceof Buffer ? TAG_BUFFER : TAG_UINT8;
    p.bytes = item;
    p.maxLength = item.byteLength;
    return;
  }
  if (typeof item === 'object') {
    const n = encodePlainInPlace(item);
    if (n >= 0) {
      p.tag = TAG_PLAIN;
      p.maxLength = n;
      if (borrow) {
        p.bytes = plainScratch();
        p.borrowed = true;
        p.words = plainScratchWords();
      } else if (arena !== null) {
        p.bytes = arena.keep(plainScratch(), n);
        p.from = arena.last;
      } else {
        p.bytes = Buffer.from(plainScratch().subarray(0, n));
      }
      return;
    }
  }
  const wire = encodeValue(item);
  if (wire.sabs.length > 0) {
    throw new TypeError(
      'a thread-only procq object (SharedArrayBuffer segment) cannot be put on a queue: build the native addon (npm run build:native) so procq uses shared memory that any thread or process can map',
    );
  }
  p.tag = wire.handles ? TAG_V8_HANDLES : TAG_V8;
  p.bytes = wire.bytes;
  p.maxLength = wire.bytes.byteLength;
}

/** Payloads up to this many bytes are copied in JavaScript: cheaper than a native call (`TypedArray.set`). */
const SMALL_COPY = 128;

/**
 * Borrowed plain frames up to this many bytes are copied a word at a time (a 66-byte job: ~12 ns, against ~63 ns
 * byte by byte and ~50 ns for the native call). Payloads start 8-byte aligned (layout.ts), as does the scratch.
 */
const WORD_COPY = 1024;

/** Strings up to this length are tried as ASCII in JavaScript: 3-4x cheaper than the native `utf8Write` call. */
const SHORT_STRING = 64;

/** Writes `s` as ASCII bytes at `off`; false (bytes written so far are garbage) at the first non-ASCII unit. */
function writeAscii(mem: Uint8Array, s: string, off: number): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return false;
    mem[off + i] = c;
  }
  return true;
}

/** Writes the payload at `off` in `mem`; returns its exact length and tag (`[length, tag]` packed as length * 16 + tag). */
export function writePayload(
  mem: FastBuffer,
  f64: Float64Array,
  i32: Int32Array,
  off: number,
  p: Prepared,
): number {
  const tag = p.tag;
  const bytes = p.bytes;
  if (bytes !== null) {
    const n = p.maxLength;
    const from = p.from;
    const words = p.words; // set only for the borrowed scratch, where `from` is 0
    if (words !== null && n <= WORD_COPY && (off & 3) === 0) {
      // Whole words, then the last 0-3 bytes one by one: nothing past the payload is written (the frame's padding
      // would otherwise carry bytes of an earlier item encoded in this thread, perhaps for another queue).
      const w = off >> 2;
      const k = n >> 2;
      for (let i = 0; i < k; i++) i32[w + i] = words[i]!;
      for (let i = k << 2; i < n; i++) mem[off + i] = bytes[i]!;
    } else if (n <= SMALL_COPY) {
      for (let i = 0; i < n; i++) mem[off + i] = bytes[from + i]!;
    } else {
      if (n >= LARGE_ITEM) sawLargeItem();
      mem.set(n === bytes.byteLength ? bytes : bytes.subarray(from, from + n), off);
    }
    return n * 16 + tag;
  }
  switch (tag) {
    case TAG_UTF16: {
      const s = p.str;
      p.str = '';
      if (s.length <= SHORT_STRING && writeAscii(mem, s, off)) return s.length * 16 + TAG_ASCII;
      if (s.length > SHORT_STRING && Buffer.byteLength(s, 'utf8') === s.length) {
        return mem.latin1Write(s, off, s.length) * 16 + TAG_ASCII;
      }
      return mem.ucs2Write(s, off, p.maxLength) * 16 + TAG_UTF16;
    }
    case TAG_NUMBER:
      f64[off >> 3] = p.num;
      return 8 * 16 + tag;
    default:
      return tag; // constants: no payload
  }
}

/** Bytes of a structured payload, copied out so the frame can be released before decoding. May be pooled memory. */
export function copyOut(mem: Buffer, off: number, len: number): Uint8Array {
  const out = receiveBuffer(len, true);
  mem.copy(out, 0, off, off + len);
  return out;
}

/** The bytes of a structured frame: a custom codec gets bytes of its own, as it may hand them to the user as is. */
export function copyStructured(mem: Buffer, tag: number, off: number, len: number): Uint8Array {
  return tag === TAG_CUSTOM ? copyOwn(mem, off, len) : copyOut(mem, off, len);
}

/**
 * Bytes handed to the user: a Buffer that owns exactly its memory (byteOffset 0, `.buffer` holds only these bytes),
 * never a slice of Node's shared Buffer pool, where other data would be readable through `.buffer`.
 */
export function copyOwn(mem: Buffer, off: number, len: number): Buffer {
  const out = receiveBuffer(len, false);
  mem.copy(out, 0, off, off + len);
  return out;
}

/**
 * A Buffer of `len` bytes, not zero-filled, for a payload being taken (`pooled`: may be a slice of Node's pool;
 * else its own ArrayBuffer of exactly `len` bytes). A large one tells the allocator before (its one-time tuning)
 * and after (huge-page advice for what the allocation grew the heap by).
 */
function receiveBuffer(len: number, pooled: boolean): Buffer {
  if (len < LARGE_ITEM) return pooled ? Buffer.allocUnsafe(len) : Buffer.allocUnsafeSlow(len);
  sawLargeItem();
  const out = pooled ? Buffer.allocUnsafe(len) : Buffer.allocUnsafeSlow(len);
  largeAllocated();
  return out;
}

/**
 * A byte-array frame copied into the caller's `into` (getInto): a view of its first `len` bytes, a `Buffer` for a
 * `Buffer` that was put, a `Uint8Array` for a `Uint8Array`. No allocation of item memory.
 */
export function copyInto(mem: Buffer, tag: number, off: number, len: number, into: Uint8Array): Uint8Array {
  into.set(mem.subarray(off, off + len));
  return tag === TAG_BUFFER
    ? Buffer.from(into.buffer, into.byteOffset, len)
    : new Uint8Array(into.buffer, into.byteOffset, len);
}

/** Decodes a fast-path frame in place; returns `undefined` with `needsBytes` for the structured tags. */
export function readFast(mem: FastBuffer, f64: Float64Array, tag: number, off: number, len: number): unknown {
  switch (tag) {
    case TAG_ASCII:
      return mem.latin1Slice(off, off + len);
    case TAG_UTF16:
      return mem.ucs2Slice(off, off + len);
    case TAG_UTF8:
      return mem.utf8Slice(off, off + len);
    case TAG_PLAIN:
      return decodePlain(mem, off, len);
    case TAG_NUMBER:
      return f64[off >> 3];
    case TAG_UINT8: {
      // Its own ArrayBuffer of exactly `len` bytes, not zero-filled first: every byte is written by the copy.
      const out = new Uint8Array(receiveBuffer(len, false).buffer, 0, len);
      out.set(mem.subarray(off, off + len));
      return out;
    }
    case TAG_BUFFER:
      return copyOwn(mem, off, len);
    case TAG_UNDEFINED:
      return undefined;
    case TAG_NULL:
      return null;
    case TAG_TRUE:
      return true;
    case TAG_FALSE:
      return false;
  }
  return undefined;
}

export function isStructured(tag: number): boolean {
  return tag === TAG_V8 || tag === TAG_V8_HANDLES || tag === TAG_CUSTOM;
}

/** Decodes bytes copied out of a structured frame (after the consumer lock is released). */
export function decodeStructured(tag: number, bytes: Uint8Array, codec: Codec<any> | undefined): unknown {
  if (tag === TAG_CUSTOM) {
    if (codec === undefined)
      throw new TypeError(
        'this item was put with a custom codec, and a codec does not travel with a queue: attach it here with `q = q.withCodec(codec)`',
      );
    return codec.decode(bytes);
  }
  return decodeValue({ bytes, sabs: [], handles: tag === TAG_V8_HANDLES });
}
