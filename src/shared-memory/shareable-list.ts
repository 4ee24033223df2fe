/**
 * `ShareableList`: Python's `multiprocessing.shared_memory.ShareableList`, a fixed-length list of small values
 * stored in one `SharedMemory` block, in Python's own byte layout (a Python process can attach a procq list by
 * name, and the reverse).
 *
 * ```ts
 * const sl = new ShareableList([1, 2.5, 'text', null, true, Buffer.from('raw')]);
 * sl.set(0, 42);                       // Python's sl[0] = 42
 * const other = new ShareableList(null, { name: sl.shm.name });   // attach, anywhere
 * other.get(0);                        // 42
 * ```
 *
 * Layout (little-endian; `N` items; Python's `struct` formats with native alignment):
 * ```
 *  offset                        size      contents
 *  0                             8         q   N, the length; never changes
 *  8                             8(N+1)    q…  allocated offset of each slot from the data start, then the end
 *  D = 8(N+2)                    off[N]    the slots: 8 bytes for a number/bool/None, a multiple of 8 for bytes
 *  D + off[N]                    8N        8s… each slot's current format ('q', 'd', 'xxxxxxx?', 'xxxxxx?x', 'Ks')
 *  D + off[N] + 8N               N         b…  each slot's back transform: 0 as is, 1 str, 2 bytes, 3 None
 * ```
 * Invariants: the length and the offsets never change after creation (a slot's room is fixed); a `set` writes the
 * format, then the transform code, then the value, with no lock, as Python's (concurrent writers of one slot need
 * a Lock of their own).
 *
 * Values map as in Python: a JS integer number (safe) or a bigint is `q` (int64; read back as a number when safe, a
 * bigint otherwise); any other number is `d` (so 1.0 is stored as an int, since JS cannot tell it from 1); boolean
 * `?`; `null` and `undefined` are None; a string is UTF-8 in a `%ds` slot sized as Python's, 8 * (characters / 8
 * + 1), or larger when its UTF-8 needs more (Python would truncate it); a `Uint8Array` is bytes
 * (read back as a `Buffer`). Trailing NUL bytes of a str or bytes value are lost, as in Python.
 */
import { type HandleDescriptor, kHandle, registerHandle } from '../codec/handles.js';
import { describe } from '../sync/core.js';
import { SharedMemory } from './shared-memory.js';

export type ShareableValue = number | bigint | boolean | string | Uint8Array | null;

const ALIGN = 8;
const INT = 'q';
const FLOAT = 'd';
const BOOL = 'xxxxxxx?';
const NONE = 'xxxxxx?x';
enum Back {
  AsIs = 0,
  Str = 1,
  Bytes = 2,
  None = 3,
}
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

interface Packed {
  readonly format: string;
  readonly back: Back;
  /** For str and bytes: the encoded bytes. */
  readonly bytes?: Uint8Array;
}

function pack(value: unknown, slotBytes?: number): Packed {
  if (value === null || value === undefined) return { format: NONE, back: Back.None };
  if (typeof value === 'boolean') return { format: BOOL, back: Back.AsIs };
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) {
      throw new RangeError(`Expected an integer that fits in 64 bits (signed), got ${value}n`);
    }
    return { format: INT, back: Back.AsIs };
  }
  if (typeof value === 'number') {
    return { format: Number.isSafeInteger(value) ? INT : FLOAT, back: Back.AsIs };
  }
  let bytes: Uint8Array;
  let back: Back;
  if (typeof value === 'string') {
    bytes = Buffer.from(value, 'utf8');
    back = Back.Str;
  } else if (value instanceof Uint8Array) {
    bytes = value;
    back = Back.Bytes;
  } else {
    throw new TypeError(
      `Expected a number, bigint, boolean, null, string or Uint8Array (the types a ShareableList holds), got ${describe(value)}`,
    );
  }
  const room = slotBytes ?? roomFor(typeof value === 'string' ? [...value].length : bytes.byteLength, bytes);
  return { format: `${room}s`, back, bytes };
}

/** Python's room for a str or bytes: 8 * (len // 8 + 1), len in characters; more when the UTF-8 needs it. */
function roomFor(length: number, bytes: Uint8Array): number {
  const python = ALIGN * (Math.floor(length / ALIGN) + 1);
  return bytes.byteLength <= python ? python : ALIGN * Math.ceil(bytes.byteLength / ALIGN);
}

function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
    // biome-ignore lint/suspicious/noDoubleEquals: Python compares 1 == 1.0 == True; JS's loose equality does for number/bigint
    return a == b;
  }
  return a === b || (a === null && b === undefined) || (a === undefined && b === null);
}

export class ShareableList implements Iterable<ShareableValue> {
  /** The block holding the list. */
  readonly shm: SharedMemory;
  readonly #view: DataView;
  readonly #length: number;
  readonly #offsets: number[];

  /**
   * With a `sequence` (and optionally a `name`): creates a new list holding its values. With only `{ name }`:
   * attaches the existing list of that name. Throws `TypeError` for a value of another type, `RangeError` for a
   * bigint outside int64; attaching errors as `SharedMemory`'s.
   */
  constructor(sequence?: Iterable<ShareableValue> | null, options: { name?: string } = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const { name } = options;
    const create = name === undefined || (sequence !== undefined && sequence !== null);
    if (!create) {
      this.shm = new SharedMemory({ name });
      this.#view = new DataView(this.shm.buf.buffer, this.shm.buf.byteOffset, this.shm.buf.byteLength);
      this.#length = Number(this.#view.getBigInt64(0, true));
      this.#offsets = [];
      for (let i = 0; i <= this.#length; i++) {
        this.#offsets.push(Number(this.#view.getBigInt64(8 + 8 * i, true)));
      }
      return;
    }
    const items = [...(sequence ?? [])];
    const packed = items.map((v) => pack(v));
    const n = items.length;
    const offsets = [0];
    for (const p of packed) {
      offsets.push(
        offsets[offsets.length - 1]! + (p.bytes === undefined ? ALIGN : Number.parseInt(p.format, 10)),
      );
    }
    const size = 8 + 8 * (n + 1) + offsets[n]! + 8 * n + n;
    this.shm = new SharedMemory({ name, create: true, size });
    this.#view = new DataView(this.shm.buf.buffer, this.shm.buf.byteOffset, this.shm.buf.byteLength);
    this.#length = n;
    this.#offsets = offsets;
    this.#view.setBigInt64(0, BigInt(n), true);
    for (let i = 0; i <= n; i++) this.#view.setBigInt64(8 + 8 * i, BigInt(offsets[i]!), true);
    for (let i = 0; i < n; i++) this.#write(i, packed[i]!, items[i]);
  }

  /** The number of items (fixed at creation). */
  get length(): number {
    return this.#length;
  }

  /** Python's `sl[i]`: the item at `i` (negative counts from the end). `RangeError` outside the list. */
  get(index: number): ShareableValue {
    const i = this.#position(index, 'index out of range');
    const format = this.#format(i);
    const at = this.#dataStart + this.#offsets[i]!;
    const back = this.#view.getInt8(this.#backStart + i) as Back;
    const v = this.#view;
    if (format === INT) {
      const big = v.getBigInt64(at, true);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    if (format === FLOAT) return v.getFloat64(at, true);
    if (format === BOOL) return v.getUint8(at + 7) !== 0;
    if (format === NONE || back === Back.None) return null;
    if (format.endsWith('s')) {
      let end = at + Number.parseInt(format, 10);
      const buf = this.shm.buf;
      while (end > at && buf[end - 1] === 0) end--;
      const bytes = Buffer.from(buf.subarray(at, end));
      return back === Back.Str ? bytes.toString('utf8') : bytes;
    }
    throw new TypeError(`ShareableList slot ${i} has a format procq does not read: '${format}'`);
  }

  /** `get` under the name of `Array.prototype.at`. */
  at(index: number): ShareableValue {
    return this.get(index);
  }

  /**
   * Python's `sl[i] = value`. A str or bytes value must fit the slot's room (fixed at creation: `RangeError`
   * otherwise, Python's `ValueError`).
   */
  set(index: number, value: ShareableValue): void {
    const i = this.#position(index, 'assignment index out of range');
    const room = this.#offsets[i + 1]! - this.#offsets[i]!;
    const current = this.#format(i);
    const packed = pack(value, room);
    if (packed.bytes !== undefined) {
      if (packed.bytes.byteLength > room) throw new RangeError('bytes/str item exceeds available storage');
      if (current.endsWith('s')) (packed as { format: string }).format = current;
    }
    this.#write(i, packed, value);
  }

  /** How many items equal `value` (Python's equality: 1 == 1n, bytes by content). */
  count(value: ShareableValue): number {
    let n = 0;
    for (const v of this) if (equal(v, value)) n++;
    return n;
  }

  /** The first position holding `value`; `RangeError` when none does (Python's `ValueError`). */
  index(value: ShareableValue): number {
    let i = 0;
    for (const v of this) {
      if (equal(v, value)) return i;
      i++;
    }
    throw new RangeError(`${describe(value)} not in this container`);
  }

  /** The `struct` format of all items, as Python's `format` (e.g. `'qd8sxxxxxx?x'`). */
  get format(): string {
    let f = '';
    for (let i = 0; i < this.#length; i++) f += this.#format(i);
    return f;
  }

  *[Symbol.iterator](): Iterator<ShareableValue> {
    for (let i = 0; i < this.#length; i++) yield this.get(i);
  }

  /** @internal travels by name, arrives attached (Python pickles it as its name). */
  [kHandle](): HandleDescriptor {
    return { type: 'ShareableList', state: { name: this.shm.name } };
  }

  toString(): string {
    return `ShareableList([${[...this].map((v) => describe(v)).join(', ')}], name='${this.shm.name}')`;
  }

  get [Symbol.toStringTag](): string {
    return 'ShareableList';
  }

  // ---------------------------------------------------------------- internals

  get #dataStart(): number {
    return (this.#length + 2) * 8;
  }
  get #formatsStart(): number {
    return this.#dataStart + this.#offsets[this.#length]!;
  }
  get #backStart(): number {
    return this.#formatsStart + this.#length * 8;
  }

  #position(index: unknown, message: string): number {
    if (typeof index !== 'number' || !Number.isInteger(index)) {
      throw new TypeError(`Expected an integer index, got ${describe(index)}`);
    }
    const i = index < 0 ? index + this.#length : index;
    if (i < 0 || i >= this.#length) throw new RangeError(message);
    return i;
  }

  #format(i: number): string {
    const at = this.#formatsStart + 8 * i;
    let end = at + 8;
    const buf = this.shm.buf;
    while (end > at && buf[end - 1] === 0) end--;
    return Buffer.from(buf.buffer, buf.byteOffset + at, end - at).toString('utf8');
  }

  #write(i: number, packed: Packed, value: unknown): void {
    const buf = this.shm.buf;
    const v = this.#view;
    const fAt = this.#formatsStart + 8 * i;
    buf.fill(0, fAt, fAt + 8);
    Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(packed.format, fAt, 8, 'utf8');
    v.setInt8(this.#backStart + i, packed.back);
    const at = this.#dataStart + this.#offsets[i]!;
    switch (packed.format) {
      case INT:
        v.setBigInt64(at, BigInt(value as number | bigint), true);
        return;
      case FLOAT:
        v.setFloat64(at, value as number, true);
        return;
      case BOOL:
        buf.fill(0, at, at + 8);
        v.setUint8(at + 7, value ? 1 : 0);
        return;
      case NONE:
        buf.fill(0, at, at + 8);
        return;
      default: {
        const room = Number.parseInt(packed.format, 10);
        buf.fill(0, at, at + room);
        buf.set(packed.bytes!, at);
      }
    }
  }
}

registerHandle('ShareableList', (state: { name: string }) => new ShareableList(null, { name: state.name }));
