/**
 * How a message with a big array (a task's `items`, a result's `values`) crosses a pool queue. Three forms, by
 * what the array holds:
 *
 * 1. **Numbers only** (at least `NUMBERS_MIN`): a *number frame*, the numbers as raw `Int32` (when every one is an
 *    int32 and none is `-0`) or `Float64`, after the rest of the message. Encoding is one typed store per number
 *    (a `TypedArray.set`), decoding is a view over the received bytes: no object per number on either side, and a
 *    quarter (int32) or half (float64) of what `node:v8` writes for the same array. `Float64` keeps every number
 *    as it is (`-0`, `NaN`, `±Infinity`), as structured clone does.
 * 2. **Primitives** (at least `PACK_MIN`): a *v8 frame*, the whole message serialized by `node:v8`, in structured
 *    clone's format and meaning (holes, `-0`, `NaN`, lone surrogates, BigInt survive).
 * 3. **Anything else**, or a short array: the message itself, cloned by the queue codec (which replaces procq
 *    handles by descriptors: only an array of objects can hold one, and those never take forms 1 or 2).
 *
 * Why: the queue's codec is built for small items. It walks a value in JavaScript, and above 64 KiB it gives up
 * and structured clone starts again, after first walking the whole value for procq handles. A `map` chunk is one
 * array of thousands of small values (Python's default chunk is a quarter of a worker's share of the items), so it
 * paid all of that twice per chunk, on the pool's thread, which every result passes through. `node:v8` is native
 * but makes a heap number per decoded double (12,500 results: 2 ms to decode, most of a chunk's cost in the pool).
 *
 * Number frame (little-endian, as the typed arrays of this machine; both ends run on it):
 *
 * ```
 * offset   size   field
 * 0        1      FRAME_NUMBERS. A v8 frame starts with 0xFF (node:v8's version tag): the first byte tells them apart
 * 1        1      element type: INT32 or FLOAT64
 * 2        2      0
 * 4        4      H: byte length of the head
 * 8        H      the head: [key, message with message[key] = null], serialized by node:v8
 * A        n × 4 or n × 8   the numbers; A = 8 + H rounded up to a multiple of 8, n = (byteLength − A) / size
 * ```
 *
 * The receiver's view of the numbers needs them aligned: the queue hands out a byte array of its own (offset 0),
 * so `A` is enough; bytes at an odd offset are copied first.
 *
 * Messages are objects (or `null`, the stop message), so a `Uint8Array` in an inbox or the result queue can only be
 * a frame.
 */
import { deserialize, serialize } from 'node:v8';

/** What a decoded number frame holds in place of the array: a view over the received bytes. */
export type Numbers = Int32Array | Float64Array;

/**
 * Smallest array of primitives worth a v8 frame. Below it the queue codec is as fast or faster (`node:v8` has a
 * fixed cost of a few µs per call); from a few hundred numbers or strings up it is slower, 1.2–2.5× from 1,000
 * values (measured here, encode and decode, arrays of 256–4,096 ints, doubles and short strings).
 */
export const PACK_MIN = 512;
/** Smallest array of numbers worth a number frame (its fixed cost: the head's `node:v8` round trip). */
export const NUMBERS_MIN = 128;

const FRAME_NUMBERS = 1;
const INT32 = 1;
const FLOAT64 = 2;
const HEAD_AT = 8;

/** `INT32` or `FLOAT64` when every value is a number, else 0. */
function numberKind(values: ArrayLike<unknown>): number {
  let kind = INT32;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'number') return 0;
    if (kind === INT32 && ((value | 0) !== value || (value === 0 && 1 / value < 0))) kind = FLOAT64;
  }
  return kind;
}

/** Whether `values` holds only primitives (symbols excepted: they do not clone). */
function primitives(values: readonly unknown[]): boolean {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const type = typeof value;
    if ((type === 'object' && value !== null) || type === 'function' || type === 'symbol') return false;
  }
  return true;
}

/**
 * `message` as it should cross a queue, by what `message[key]` holds (see the module comment): a number frame, a
 * v8 frame, or `message` itself. `message[key]` is an array, or a `Float64Array` of numbers. A number frame lives
 * in memory the next frame reuses: put it with a synchronous put before packing another message.
 */
export function pack<M extends object, K extends keyof M & string>(message: M, key: K): M | Uint8Array {
  const values = message[key] as ArrayLike<unknown>;
  if (values.length >= NUMBERS_MIN) {
    const kind = numberKind(values);
    if (kind !== 0) return numberFrame(message, key, values as ArrayLike<number>, kind);
  }
  if (!Array.isArray(values)) return { ...message, [key]: Array.from(values) };
  return values.length >= PACK_MIN && primitives(values) ? serialize(message) : message;
}

/**
 * Grow-only memory a number frame is written into, reused by every frame of this thread: a frame is sent with a
 * synchronous put, which has copied it into the queue when it returns, so one frame is alive at a time and a map
 * allocates (and, on a VM with slow page faults, faults in) no fresh memory per chunk.
 */
let scratch = new ArrayBuffer(0);

function scratchBytes(length: number): Uint8Array {
  if (scratch.byteLength < length) scratch = new ArrayBuffer(Math.max(length, 2 * scratch.byteLength));
  return new Uint8Array(scratch, 0, length);
}

/** A number frame in this thread's scratch memory: valid until the next frame is made (send it at once). */
function numberFrame(message: object, key: string, numbers: ArrayLike<number>, kind: number): Uint8Array {
  const head = serialize([key, { ...message, [key]: null }]);
  const at = align8(HEAD_AT + head.length);
  const size = kind === INT32 ? 4 : 8;
  const frame = scratchBytes(at + numbers.length * size);
  frame.fill(0, 0, HEAD_AT);
  frame[0] = FRAME_NUMBERS;
  frame[1] = kind;
  new DataView(frame.buffer).setUint32(4, head.length, true);
  frame.set(head, HEAD_AT);
  frame.fill(0, HEAD_AT + head.length, at);
  const out =
    kind === INT32
      ? new Int32Array(frame.buffer, at, numbers.length)
      : new Float64Array(frame.buffer, at, numbers.length);
  out.set(numbers);
  return frame;
}

/** The message `pack` was given (a copy when it was framed; a number frame's array comes back as `Numbers`). */
export function unpack<M>(wire: M | Uint8Array): M {
  if (!(wire instanceof Uint8Array)) return wire;
  if (wire[0] !== FRAME_NUMBERS) return deserialize(wire) as M;
  const headLength = new DataView(wire.buffer, wire.byteOffset, HEAD_AT).getUint32(4, true);
  const [key, message] = deserialize(wire.subarray(HEAD_AT, HEAD_AT + headLength)) as [string, M];
  const at = align8(HEAD_AT + headLength);
  const Type = wire[1] === INT32 ? Int32Array : Float64Array;
  let bytes = wire;
  let offset = wire.byteOffset + at;
  if (offset % Type.BYTES_PER_ELEMENT !== 0) {
    bytes = wire.slice(at);
    offset = 0;
  }
  const length = (wire.byteLength - at) / Type.BYTES_PER_ELEMENT;
  (message as Record<string, unknown>)[key] = new Type(bytes.buffer as ArrayBuffer, offset, length);
  return message;
}

/**
 * A dense copy of `values` (no holes, an unset index read as `undefined`): filled by push, so that V8 keeps it
 * packed. Arrays that `node:v8` decodes are holey even when full, and V8 serializes a holey array as a sparse one,
 * key by key, about 20x slower, should the caller send the results on.
 */
export function denseArray(values: ArrayLike<unknown>): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < values.length; i++) out.push(values[i]);
  return out;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
