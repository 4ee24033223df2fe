/**
 * A fast codec for the items most queues carry: plain objects and arrays of strings, numbers, booleans, null and
 * undefined (a job `{ id, name, tags: [...] }`). Written in JavaScript because `node:v8` serialize costs ~2 µs per
 * such item here (a native call, a fresh buffer, a generic walk) and this costs a fraction of that.
 *
 * It keeps structured clone's meaning exactly, or refuses the item (`encodePlain` returns -1) and the caller falls
 * back to `node:v8` (which then clones it or throws): a Proxy, anything else (Map, Date, typed arrays, BigInt, class instances, getters-as-accessors are
 * read like clone does), arrays with holes or extra properties, an object met twice (clone keeps shared
 * references and cycles), more than MAX_DEPTH levels or MAX_BYTES bytes. Strings are ASCII bytes or UTF-16 code
 * units, so lone surrogates survive as they do in clone; `-0`, `NaN` and `undefined` properties survive too.
 *
 * Format: one type byte, then:
 *   T_NULL | T_UNDEF | T_TRUE | T_FALSE      nothing
 *   T_INT                                    i32 (LE)
 *   T_F64                                    f64 (LE)
 *   T_ASCII  u32 length, bytes      T_UTF16  u32 units, 2 bytes each
 *   T_ARRAY  u32 count, values      T_OBJECT u32 count, (key: T_ASCII|T_UTF16 string, value) pairs
 *   T_RECORD u16 key-block bytes, key block (per key: u8 length, ASCII bytes), then one value per key
 *
 * Records (`shapes.ts`): an object whose keys are all short ASCII (the usual job) carries its key list as one block
 * in every frame, so each frame decodes alone (another consumer, a consumer started late, another process); the
 * encoder copies the block from a cache of key lists it has seen, the decoder looks the block up in its own cache
 * and builds the object with one compiled object literal per shape (one hidden class, no per-key stores).
 */

import { isProxy } from 'node:util/types';
import { builderFor, type DecodeShape, encodeShapeOf, type RecordShape, writerOf } from './shapes.js';

const T_NULL = 1;
const T_UNDEF = 2;
const T_TRUE = 3;
const T_FALSE = 4;
const T_INT = 5;
const T_F64 = 6;
const T_ASCII = 7;
const T_UTF16 = 8;
const T_ARRAY = 9;
const T_OBJECT = 10;
const T_RECORD = 11;

const MAX_DEPTH = 16;
const MAX_CONTAINERS = 256;
export const MAX_PLAIN_BYTES = 1 << 16;

interface UcsBuffer extends Buffer {
  ucs2Write(s: string, offset: number, maxLength: number): number;
  ucs2Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

let scratch = Buffer.allocUnsafeSlow(4096) as UcsBuffer;
/** `scratch` as 32-bit words (its own ArrayBuffer, offset 0): frames.ts copies whole words of it into the ring. */
let scratchWords = new Int32Array(scratch.buffer, 0, scratch.length >> 2);
let pos = 0;
/** The containers of the item being encoded: `seen[0 .. nSeen)` (a fixed array: no growing, no `length = 0` call). */
const seen: (object | undefined)[] = new Array(MAX_CONTAINERS).fill(undefined);
let nSeen = 0;
/** An encoding is under way: a getter that puts on a queue while being read must not reuse the scratch. */
let busy = false;

class Refuse {}
const REFUSE = new Refuse();

function room(n: number): void {
  if (pos + n <= scratch.length) return;
  if (pos + n > MAX_PLAIN_BYTES) throw REFUSE;
  const next = Buffer.allocUnsafeSlow(
    Math.min(MAX_PLAIN_BYTES, Math.max(scratch.length * 2, pos + n)),
  ) as UcsBuffer;
  scratch.copy(next, 0, 0, pos);
  scratch = next;
  scratchWords = new Int32Array(next.buffer, 0, next.length >> 2);
}

/** Little-endian u32 at `pos` (plain byte stores: cheaper than `writeUInt32LE`'s checks on a hot path). */
function writeU32(n: number): void {
  const b = scratch;
  const p = pos;
  b[p] = n;
  b[p + 1] = n >>> 8;
  b[p + 2] = n >>> 16;
  b[p + 3] = n >>> 24;
  pos = p + 4;
}

function writeString(s: string): void {
  const n = s.length;
  room(5 + 2 * n);
  const b = scratch;
  const start = pos + 5;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    b[start + i] = c;
  }
  if (i === n) {
    b[pos] = T_ASCII;
    pos++;
    writeU32(n);
    pos += n;
  } else {
    b[pos] = T_UTF16;
    pos++;
    writeU32(n);
    pos += b.ucs2Write(s, pos, 2 * n);
  }
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      writeString(v);
      return;
    case 'number':
      room(9);
      if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
        scratch[pos++] = T_INT;
        writeU32(v);
      } else {
        scratch[pos] = T_F64;
        scratch.writeDoubleLE(v, pos + 1);
        pos += 9;
      }
      return;
    case 'boolean':
      room(1);
      scratch[pos++] = v ? T_TRUE : T_FALSE;
      return;
    case 'undefined':
      room(1);
      scratch[pos++] = T_UNDEF;
      return;
    case 'object':
      if (v === null) {
        room(1);
        scratch[pos++] = T_NULL;
        return;
      }
      writeContainer(v, depth);
      return;
  }
  throw REFUSE; // bigint, symbol, function
}

function wasSeen(v: object): boolean {
  for (let i = 0; i < nSeen; i++) if (seen[i] === v) return true;
  return false;
}

function writeContainer(v: object, depth: number): void {
  if (depth >= MAX_DEPTH || nSeen >= MAX_CONTAINERS || wasSeen(v) || isProxy(v)) throw REFUSE;
  seen[nSeen++] = v;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) throw REFUSE;
    const n = v.length;
    if (Object.keys(v).length !== n) throw REFUSE; // holes or extra properties: clone keeps them
    room(5);
    scratch[pos++] = T_ARRAY;
    writeU32(n);
    for (let i = 0; i < n; i++) writeValue(v[i], depth + 1);
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw REFUSE;
  const last = lastShape[depth];
  if (last !== undefined && hasShape(v, last)) {
    writeRecord(v as Record<string, unknown>, last, depth);
    return;
  }
  const keys = Object.keys(v);
  const shape = encodeShapeOf(keys);
  if (shape !== null) {
    lastShape[depth] = shape;
    writeRecord(v as Record<string, unknown>, shape, depth);
    return;
  }
  room(5);
  scratch[pos++] = T_OBJECT;
  writeU32(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    writeString(k);
    writeValue(propertyOf(v as Record<string, unknown>, k), depth + 1);
  }
}

/** The record shape last written at each depth: the likely shape of the next object there. */
const lastShape: (RecordShape | undefined)[] = new Array(MAX_DEPTH).fill(undefined);
const ownKey = Object.prototype.hasOwnProperty;

/**
 * Whether `v`'s own enumerable string keys are exactly `shape.keys`, in order, checked without `Object.keys`'s
 * array: `for-in` walks V8's enum cache and lists own keys in `Object.keys` order, then inherited enumerable ones
 * (an inherited key, e.g. on a polluted `Object.prototype`, fails the own-property check).
 */
function hasShape(v: object, shape: RecordShape): boolean {
  const keys = shape.keys;
  let i = 0;
  for (const k in v) {
    if (k !== keys[i] || !ownKey.call(v, k)) return false;
    i++;
  }
  return i === keys.length;
}

function writeRecord(v: Record<string, unknown>, shape: RecordShape, depth: number): void {
  const block = shape.block;
  const n = block.length;
  room(3 + n);
  const b = scratch;
  let p = pos;
  b[p] = T_RECORD;
  b[p + 1] = n;
  b[p + 2] = n >>> 8;
  p += 3;
  for (let i = 0; i < n; i++) b[p + i] = block[i]!;
  pos = p + n;
  const write = writerOf(shape);
  if (write !== null) {
    write(v, depth + 1, writeValue, REFUSE);
    return;
  }
  const keys = shape.keys;
  for (let i = 0; i < keys.length; i++) writeValue(propertyOf(v, keys[i]!), depth + 1);
}

/**
 * `v[k]`, refusing when the key is gone: a getter read earlier deleted it, and clone then leaves it out (the
 * structured clone fallback does, where this codec has already written the key).
 */
function propertyOf(v: Record<string, unknown>, k: string): unknown {
  const x = v[k];
  if (x === undefined && !Object.hasOwn(v, k)) throw REFUSE;
  return x;
}

/**
 * Encodes `item` into this thread's scratch buffer if it is a plain object or array this codec keeps exactly;
 * returns the byte count (the bytes are `plainScratch()[0 .. count)` until the next encoding), or -1 to say "use
 * structured clone" (also when called from inside another encoding: a getter that puts on a queue).
 */
export function encodePlainInPlace(item: object): number {
  if (busy) return -1;
  busy = true;
  pos = 0;
  nSeen = 0;
  try {
    writeContainer(item, 0);
  } catch (err) {
    if (err === REFUSE) return -1;
    throw err;
  } finally {
    for (let i = 0; i < nSeen; i++) seen[i] = undefined; // hold no item alive
    nSeen = 0;
    busy = false;
  }
  return pos;
}

/** The scratch buffer the last `encodePlainInPlace` wrote (it may be replaced by a larger one on the next). */
export function plainScratch(): Buffer {
  return scratch;
}

/** `plainScratch()` as 32-bit words (the same memory, from its first byte). */
export function plainScratchWords(): Int32Array {
  return scratchWords;
}

/**
 * Encodes `item` if it is a plain object or array this codec keeps exactly; returns a fresh Buffer with the bytes,
 * or `null` to say "use structured clone".
 */
export function encodePlain(item: object): Buffer | null {
  const n = encodePlainInPlace(item);
  if (n < 0) return null;
  const out = Buffer.allocUnsafe(n);
  scratch.copy(out, 0, 0, n);
  return out;
}

// ---------------------------------------------------------------- decoding (in place, from shared memory)

let rb: UcsBuffer;
let rpos = 0;
const fromCharCode = String.fromCharCode;

function readU32(): number {
  const b = rb;
  const p = rpos;
  rpos = p + 4;
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/**
 * Short ASCII strings recur from item to item (every key, and values such as tags): a direct-mapped cache of the
 * last string seen per (length, first, last byte) hands back the same string instead of building a new one, which
 * also spares V8 internalizing a fresh key on every property store. Strings are values: sharing one is invisible.
 */
const CACHE_MAX_LEN = 16;
const cache: string[] = new Array(1024).fill('');

function cachedAscii(b: UcsBuffer, p: number, n: number): string {
  const slot = (n * 31 + b[p]! * 7 + b[p + n - 1]!) & 1023;
  const hit = cache[slot]!;
  if (hit.length === n) {
    let i = 0;
    while (i < n && hit.charCodeAt(i) === b[p + i]) i++;
    if (i === n) return hit;
  }
  const s = buildAscii(b, p, n);
  cache[slot] = s;
  return s;
}

function readAscii(n: number): string {
  const p = rpos;
  rpos += n;
  if (n === 0) return '';
  return n <= CACHE_MAX_LEN ? cachedAscii(rb, p, n) : rb.latin1Slice(p, p + n);
}

function buildAscii(b: UcsBuffer, p: number, n: number): string {
  // Short keys and values: building the string in JavaScript beats a native call (~2x here).
  switch (n) {
    case 1:
      return fromCharCode(b[p]!);
    case 2:
      return fromCharCode(b[p]!, b[p + 1]!);
    case 3:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!);
    case 4:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
    case 5:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
    case 6:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
    case 7:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
    case 8:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
  }
  // 9 to CACHE_MAX_LEN: two halves, still cheaper than the native call.
  return n <= 16 ? buildAscii(b, p, 8) + buildAscii(b, p + 8, n - 8) : b.latin1Slice(p, p + n);
}

function readValue(): unknown {
  const b = rb;
  const t = b[rpos++];
  switch (t) {
    case T_NULL:
      return null;
    case T_UNDEF:
      return undefined;
    case T_TRUE:
      return true;
    case T_FALSE:
      return false;
    case T_INT:
      return readU32() | 0;
    case T_F64:
      rpos += 8;
      return b.readDoubleLE(rpos - 8);
    case T_ASCII:
      return readAscii(readU32());
    case T_UTF16: {
      const n = readU32();
      rpos += 2 * n;
      return b.ucs2Slice(rpos - 2 * n, rpos);
    }
    case T_ARRAY:
      return readArray(readU32());
    case T_RECORD:
      return readRecord();
    case T_OBJECT: {
      const n = readU32();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = readValue() as string;
        setOwn(o, k, readValue());
      }
      return o;
    }
  }
  throw new Error(`procq: corrupt plain frame (type byte ${t})`);
}

/** A packed array, as clone gives (`new Array(n)` would make a holey one, slower to read for as long as it lives). */
function readArray(n: number): unknown[] {
  switch (n) {
    case 0:
      return [];
    case 1:
      return [readValue()];
    case 2:
      return [readValue(), readValue()];
    case 3:
      return [readValue(), readValue(), readValue()];
  }
  const a: unknown[] = [];
  for (let i = 0; i < n; i++) a.push(readValue());
  return a;
}

function readRecord(): unknown {
  const b = rb;
  const p = rpos;
  const n = b[p]! | (b[p + 1]! << 8);
  rpos = p + 2 + n;
  const shape: DecodeShape = builderFor(b, p + 2, n);
  if (shape.build !== null) return shape.build(readValue);
  const keys = shape.keys;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) setOwn(o, keys[i]!, readValue());
  return o;
}

/** `o[k] = v` as clone does it: an own `__proto__` key stays an own property instead of setting the prototype. */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** Decodes the plain frame of `length` bytes at `offset` in `mem`. @internal */
export function decodePlain(mem: Buffer, offset: number, length: number): unknown {
  rb = mem as UcsBuffer;
  rpos = offset;
  const v = readValue();
  if (rpos !== offset + length)
    throw new Error(`procq: corrupt plain frame (${rpos - offset} of ${length} bytes read)`);
  return v;
}
