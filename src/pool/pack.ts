/**
 * Task and result messages with a big array of primitives travel as one byte array (the message serialized by
 * `node:v8`), every other message as itself.
 *
 * Why: the queue's codec is built for small items. It walks a value in JavaScript, and above 64 KiB it gives up
 * and structured clone starts again, after first walking the whole value for procq handles. A `map` chunk is one
 * array of thousands of small values (Python's default chunk is a quarter of a worker's share of the items), so it
 * paid all of that twice per chunk, on the pool's thread, which every result passes through. `node:v8` serializes
 * an array of primitives natively, in structured clone's format and meaning (holes, `-0`, `NaN`, lone surrogates,
 * BigInt survive), and a byte array crosses the queue as one copy. Only arrays of primitives are packed: they
 * cannot hold a procq handle (a `Queue` in an item needs the queue codec, which replaces it by a descriptor), and
 * checking that is one `typeof` per value.
 *
 * Messages are objects (or `null`, the stop message), so a `Uint8Array` in an inbox or the result queue can only be
 * a packed message.
 */
import { deserialize, serialize } from 'node:v8';

/**
 * Smallest array worth packing. Below it the queue codec is as fast or faster (`node:v8` has a fixed cost of a few
 * µs per call); from a few hundred numbers or strings up it is slower, 1.2–2.5× from 1,000 values (measured
 * here, encode and decode, arrays of 256–4,096 ints, doubles and short strings).
 */
export const PACK_MIN = 512;

/** Whether `values` is an array of at least `PACK_MIN` primitives (symbols excepted: they do not clone). */
function packable(values: readonly unknown[] | Uint8Array): boolean {
  if (values.length < PACK_MIN || !Array.isArray(values)) return false;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const type = typeof value;
    if ((type === 'object' && value !== null) || type === 'function' || type === 'symbol') return false;
  }
  return true;
}

/** `message` serialized when `array` (its big part) is worth packing; `message` itself otherwise. */
export function pack<M extends object>(message: M, array: readonly unknown[]): M | Uint8Array {
  return packable(array) ? serialize(message) : message;
}

/** The message `pack` was given (a copy when it was packed). */
export function unpack<M>(wire: M | Uint8Array): M {
  return wire instanceof Uint8Array ? (deserialize(wire) as M) : wire;
}
