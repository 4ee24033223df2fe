/**
 * item <-> bytes for everything that is not a fast path: structured clone through `node:v8` (what `postMessage`
 * accepts), plus procq handles, which are replaced by their descriptors on the way in and revived on the way out.
 *
 * SharedArrayBuffers (the thread-only segments of handles) cannot live in bytes (node:v8 cannot deserialize
 * them): they are taken out of handle descriptors into `Wire.sabs` and referred to by index. Only a transport that can carry them (worker `postMessage`) accepts a Wire
 * with `sabs`; the ring refuses it with a TypeError.
 */
import * as v8 from 'node:v8';
import { type HandleDescriptor, isShareable, kHandle, reviveHandle } from './handles.js';

export type { HandleDescriptor, Shareable } from './handles.js';
export { isShareable, kHandle, registerHandle } from './handles.js';

export interface Wire {
  readonly bytes: Uint8Array;
  readonly sabs: SharedArrayBuffer[];
  /** True when the value held procq handles (the decoder then revives them). */
  readonly handles: boolean;
  /** True when one of those handles describes memory of this machine (see `HandleDescriptor.portable`). */
  readonly local?: boolean;
}

/** The marker a handle is replaced by inside the cloned value. */
const HANDLE_KEY = '__procq_handle__';

/** The marker a SharedArrayBuffer inside a handle's state is replaced by: `{ [SAB_KEY]: index into sabs }`. */
const SAB_KEY = '__procq_sab__';

class WireSerializer extends v8.DefaultSerializer {
  _getSharedArrayBufferId(_sab: SharedArrayBuffer): number {
    throw new TypeError('a SharedArrayBuffer cannot be sent through procq; share a procq object instead');
  }
}

/** Serializes `value`; throws a TypeError (its `cause` the serializer's error) for what cannot be cloned. */
export function encodeValue(value: unknown): Wire {
  const withHandles = containsHandle(value, new Set());
  const sabs: SharedArrayBuffer[] = [];
  const seen = { local: false };
  const cloned = withHandles ? replaceHandles(value, new Map(), sabs, seen) : value;
  const ser = new WireSerializer();
  ser.writeHeader();
  try {
    ser.writeValue(cloned);
  } catch (err) {
    throw new TypeError(`procq cannot clone this value: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
  return { bytes: ser.releaseBuffer(), sabs, handles: withHandles, local: seen.local };
}

/**
 * Node's deserializer returns typed arrays as views into the bytes it reads (a pooled Buffer here): `byteOffset`
 * is not 0 and `.buffer` shows whatever else shares that memory. Each view is given its own exact copy instead, as
 * structured clone (postMessage) does.
 */
class OwnBytesDeserializer extends v8.DefaultDeserializer {
  // Node's hook for host objects (array buffer views); not in @types/node.
  _readHostObject(): unknown {
    const base = v8.DefaultDeserializer.prototype as unknown as { _readHostObject(): ArrayBufferView };
    return ownCopy(base._readHostObject.call(this));
  }
}

/** A copy of `view` over an ArrayBuffer of exactly its bytes (byteOffset 0), of the same class. */
export function ownCopy(view: ArrayBufferView): ArrayBufferView {
  const ab = new ArrayBuffer(view.byteLength);
  new Uint8Array(ab).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  if (Buffer.isBuffer(view)) return Buffer.from(ab);
  if (view instanceof DataView) return new DataView(ab);
  const Ctor = view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
  return new Ctor(ab);
}

/** Why bytes failed to decode: they were not written by `encodeValue` (corrupt memory). */
export class UndecodableBytes extends Error {}

export function decodeValue(wire: Wire): unknown {
  let value: unknown;
  try {
    const des = new OwnBytesDeserializer(wire.bytes as Buffer);
    des.readHeader();
    value = des.readValue();
  } catch (err) {
    throw new UndecodableBytes(`structured-clone bytes do not decode: ${(err as Error)?.message ?? err}`, {
      cause: err,
    });
  }
  return wire.handles ? reviveHandles(value, new Map(), wire.sabs) : value;
}

/** Whether the codec looks for handles inside `v`: arrays, plain objects, Maps and Sets, never class instances. */
export function isPlainContainer(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return (
    proto === Object.prototype || proto === null || Array.isArray(v) || v instanceof Map || v instanceof Set
  );
}

function containsHandle(v: unknown, seen: Set<object>): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (isShareable(v)) return true;
  if (seen.has(v) || ArrayBuffer.isView(v) || !isPlainContainer(v)) return false;
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, x] of v) if (containsHandle(k, seen) || containsHandle(x, seen)) return true;
    return false;
  }
  if (v instanceof Set) {
    for (const x of v) if (containsHandle(x, seen)) return true;
    return false;
  }
  for (const k of Object.keys(v)) if (containsHandle((v as any)[k], seen)) return true;
  return false;
}

/** Replaces the SharedArrayBuffers of a handle's (JSON-like) state by markers. */
function extractSabs(v: unknown, sabs: SharedArrayBuffer[]): unknown {
  if (v instanceof SharedArrayBuffer) {
    sabs.push(v);
    return { [SAB_KEY]: sabs.length - 1 };
  }
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) return v.map((x) => extractSabs(x, sabs));
  const out: any = {};
  for (const k of Object.keys(v)) out[k] = extractSabs((v as any)[k], sabs);
  return out;
}

function restoreSabs(v: unknown, sabs: SharedArrayBuffer[]): unknown {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) return v.map((x) => restoreSabs(x, sabs));
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === SAB_KEY) return sabs[(v as any)[SAB_KEY]];
  const out: any = {};
  for (const k of keys) out[k] = restoreSabs((v as any)[k], sabs);
  return out;
}

function replaceHandles(
  v: unknown,
  copies: Map<object, unknown>,
  sabs: SharedArrayBuffer[],
  seen: { local: boolean },
): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (isShareable(v)) {
    const d = v[kHandle]();
    if (d.portable !== true) seen.local = true;
    return { [HANDLE_KEY]: { type: d.type, state: extractSabs(d.state, sabs) } };
  }
  if (copies.has(v)) return copies.get(v);
  if (ArrayBuffer.isView(v) || !isPlainContainer(v)) return v;
  if (v instanceof Map) {
    const m = new Map();
    copies.set(v, m);
    for (const [k, x] of v)
      m.set(replaceHandles(k, copies, sabs, seen), replaceHandles(x, copies, sabs, seen));
    return m;
  }
  if (v instanceof Set) {
    const s = new Set();
    copies.set(v, s);
    for (const x of v) s.add(replaceHandles(x, copies, sabs, seen));
    return s;
  }
  const out: any = Array.isArray(v) ? new Array(v.length) : Object.create(Object.getPrototypeOf(v));
  copies.set(v, out);
  for (const k of Object.keys(v)) out[k] = replaceHandles((v as any)[k], copies, sabs, seen);
  return out;
}

function reviveHandles(v: unknown, done: Map<object, unknown>, sabs: SharedArrayBuffer[]): unknown {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return v;
  if (done.has(v)) return done.get(v);
  const desc = (v as any)[HANDLE_KEY] as HandleDescriptor | undefined;
  if (desc !== undefined && Object.keys(v).length === 1) {
    const h = reviveHandle({ type: desc.type, state: restoreSabs(desc.state, sabs) });
    done.set(v, h);
    return h;
  }
  done.set(v, v);
  if (v instanceof Map) {
    const entries = [...v];
    v.clear();
    for (const [k, x] of entries) v.set(reviveHandles(k, done, sabs), reviveHandles(x, done, sabs));
  } else if (v instanceof Set) {
    const items = [...v];
    v.clear();
    for (const x of items) v.add(reviveHandles(x, done, sabs));
  } else if (isPlainContainer(v)) {
    for (const k of Object.keys(v)) (v as any)[k] = reviveHandles((v as any)[k], done, sabs);
  }
  return v;
}
