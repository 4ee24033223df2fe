/**
 * item <-> Redis list element. One tag byte, then the payload:
 *
 * | tag | payload                                   | for                                  |
 * |-----|-------------------------------------------|--------------------------------------|
 * | `s` | UTF-8                                     | strings (fast path)                  |
 * | `n` | float64, little-endian                    | numbers (fast path)                  |
 * | `T` `F` `N` `U` | none                          | true, false, null, undefined         |
 * | `b` `u` | the bytes                             | Buffer, Uint8Array (fast path)       |
 * | `v` | `node:v8` serialization (`encodeValue`)   | everything else structured clone takes, and strings |
 * |     |                                           | that are not well-formed UTF-16 (lone surrogates)    |
 * | `h` | `node:v8` serialization, with handles     | items holding a `RedisQueue` (revived attached)      |
 * | `c` | the user codec's bytes                    | every item, when a `codec` object is given           |
 *
 * With `codec: 'json'` there is no tag: every element is the item's JSON text (UTF-8), so any Redis client in any
 * language reads and writes the queue (see docs/REDIS.md).
 *
 * The shutdown sentinel (see `scripts.ts`) starts with a NUL byte, which no tag is and no JSON text starts with,
 * so it never decodes as an item. procq handles of one machine's memory (a shared-memory `Queue`, `Lock`, …)
 * cannot travel through Redis: an item holding one fails the put with a `TypeError`, the queue unchanged. A
 * `RedisQueue` can (its handle is portable: a URL and a name).
 */
import type { Codec } from '../codec/frames.js';
import { decodeValue, encodeValue } from '../codec/index.js';

const TAG_STRING = 0x73; // s
const TAG_NUMBER = 0x6e; // n
const TAG_TRUE = 0x54; // T
const TAG_FALSE = 0x46; // F
const TAG_NULL = 0x4e; // N
const TAG_UNDEFINED = 0x55; // U
const TAG_BUFFER = 0x62; // b
const TAG_UINT8 = 0x75; // u
const TAG_V8 = 0x76; // v
const TAG_CUSTOM = 0x63; // c
const TAG_HANDLES = 0x68; // h

/** How a queue's elements are encoded: procq's tagged bytes (with an optional user codec), or bare JSON text. */
export type ItemCodec = Codec<any> | 'json' | undefined;

const CONSTANTS = {
  [TAG_TRUE]: Buffer.of(TAG_TRUE),
  [TAG_FALSE]: Buffer.of(TAG_FALSE),
  [TAG_NULL]: Buffer.of(TAG_NULL),
  [TAG_UNDEFINED]: Buffer.of(TAG_UNDEFINED),
};

function tagged(tag: number, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(bytes.byteLength + 1);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}

/** Encodes `item`; throws a TypeError (nothing sent) for what cannot be cloned or cannot leave this machine. */
export function encodeItem(item: unknown, codec: ItemCodec): Buffer {
  if (codec === 'json') return encodeJson(item);
  if (codec !== undefined) {
    const bytes = codec.encode(item);
    if (!(bytes instanceof Uint8Array))
      throw new TypeError('the queue codec must return a Uint8Array from encode()');
    return tagged(TAG_CUSTOM, bytes);
  }
  switch (typeof item) {
    case 'string': {
      if (!(item as unknown as { isWellFormed(): boolean }).isWellFormed()) break; // UTF-8 would lose it
      const len = Buffer.byteLength(item, 'utf8');
      const out = Buffer.allocUnsafe(len + 1);
      out[0] = TAG_STRING;
      out.write(item, 1, 'utf8');
      return out;
    }
    case 'number': {
      const out = Buffer.allocUnsafe(9);
      out[0] = TAG_NUMBER;
      out.writeDoubleLE(item, 1);
      return out;
    }
    case 'boolean':
      return CONSTANTS[item ? TAG_TRUE : TAG_FALSE];
    case 'undefined':
      return CONSTANTS[TAG_UNDEFINED];
  }
  if (item === null) return CONSTANTS[TAG_NULL];
  if (item instanceof Uint8Array && (item.constructor === Uint8Array || item.constructor === Buffer)) {
    return tagged(item instanceof Buffer ? TAG_BUFFER : TAG_UINT8, item);
  }
  const wire = encodeValue(item);
  if (wire.local) {
    throw new TypeError(
      'procq handles (a Queue, Lock, … over shared memory) cannot travel through Redis: they describe memory of one machine',
    );
  }
  return tagged(wire.handles ? TAG_HANDLES : TAG_V8, wire.bytes);
}

function encodeJson(item: unknown): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(item);
  } catch (err) {
    throw new TypeError(`this item has no JSON form (codec: 'json'): ${(err as Error)?.message}`, {
      cause: err,
    });
  }
  if (text === undefined) {
    throw new TypeError(`this item has no JSON form (codec: 'json'): ${typeof item}`, {
      cause: new TypeError(`JSON.stringify gave undefined for a ${typeof item}`),
    });
  }
  return Buffer.from(text, 'utf8');
}

export function decodeItem(buf: Buffer, codec: ItemCodec): unknown {
  if (codec === 'json') {
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new TypeError(
        `an element of this queue is not JSON text (codec: 'json'): ${(err as Error).message}`,
      );
    }
  }
  const payload = buf.subarray(1);
  switch (buf[0]) {
    case TAG_STRING:
      return payload.toString('utf8');
    case TAG_NUMBER:
      return buf.readDoubleLE(1);
    case TAG_TRUE:
      return true;
    case TAG_FALSE:
      return false;
    case TAG_NULL:
      return null;
    case TAG_UNDEFINED:
      return undefined;
    case TAG_BUFFER:
      return Buffer.from(payload);
    case TAG_UINT8:
      return new Uint8Array(payload);
    case TAG_V8:
      return decodeValue({ bytes: payload, sabs: [], handles: false });
    case TAG_HANDLES:
      return decodeValue({ bytes: payload, sabs: [], handles: true });
    case TAG_CUSTOM:
      if (codec === undefined)
        throw new TypeError('this item was put with a codec: open the queue with the same codec');
      return codec.decode(payload);
  }
  throw new TypeError(`not a procq item (tag byte ${buf[0]}): was this list written by something else?`);
}
