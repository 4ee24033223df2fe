/**
 * Object shapes for the plain codec's records (`plain.ts`, `T_RECORD`): the key list of an object, encoded once as
 * a key block (per key: u8 length, then its ASCII bytes) and cached on both sides.
 *
 * Nothing is assumed across threads or processes: every record frame carries its key block, so a frame decodes
 * alone, whichever consumer takes it, however late it started, whatever it decoded before. The caches only save
 * work: the encoder's maps a key list (compared key by key) to its ready-made block, the decoder's maps a block
 * (compared byte by byte) to its keys and, from the second time it is seen, to a compiled object literal
 * `{ "k1": r(), "k2": r(), ... }` that V8 builds with one hidden class and no per-key stores. Both are
 * direct-mapped and per thread: a collision only replaces an entry, and code is compiled for at most
 * MAX_COMPILED shapes per thread (past that, or where code generation from strings is disallowed, objects are
 * built key by key, as before).
 */

/** Objects with more keys (or a key longer than 255 ASCII characters, or `__proto__`) are not records. */
export const MAX_RECORD_KEYS = 64;
const MAX_COMPILED = 4096;

export interface EncodeShape {
  readonly keys: readonly string[];
  /** The key block, or null: this key list is not a record. */
  readonly block: Uint8Array | null;
  /** Writes the values in key order, one load per key at a fixed name; null until compiled (see compileWriter). */
  write: RecordWriter | null;
  uses: number;
}

/**
 * `(v, depth, writeValue, refuse)`: for each key in order, `x = v[key]`, refuse (throw `refuse`) when `x` is
 * undefined and the key is no longer own (a getter read before deleted it), else `writeValue(x, depth)`.
 */
export type RecordWriter = (
  v: object,
  depth: number,
  writeValue: (x: unknown, depth: number) => void,
  refuse: unknown,
) => void;

/** A key list that is a record: its block is ready to copy. */
export interface RecordShape extends EncodeShape {
  readonly block: Uint8Array;
}

export interface DecodeShape {
  readonly bytes: Uint8Array;
  readonly keys: readonly string[];
  /** Builds the object, reading each value with `read` in key order; null until compiled. */
  build: ((read: () => unknown) => Record<string, unknown>) | null;
  uses: number;
}

// ---------------------------------------------------------------- encoder side

const ENC_SLOTS = 64;
const encCache: (EncodeShape | undefined)[] = new Array(ENC_SLOTS).fill(undefined);

function encSlot(keys: readonly string[], n: number): number {
  const k0 = keys[0]!;
  const kl = keys[n - 1]!;
  return (n * 31 + k0.length * 7 + kl.length * 3 + (k0.length > 0 ? k0.charCodeAt(0) : 0)) & (ENC_SLOTS - 1);
}

/** The record shape of an object with these own keys (`Object.keys` order), or null when it is not a record. */
export function encodeShapeOf(keys: string[]): RecordShape | null {
  const n = keys.length;
  if (n === 0 || n > MAX_RECORD_KEYS) return null;
  const slot = encSlot(keys, n);
  const hit = encCache[slot];
  if (hit !== undefined && sameKeys(hit.keys, keys, n))
    return hit.block === null ? null : (hit as RecordShape);
  const shape: EncodeShape = { keys, block: keyBlock(keys), write: null, uses: 0 };
  encCache[slot] = shape;
  return shape.block === null ? null : (shape as RecordShape);
}

function sameKeys(a: readonly string[], b: readonly string[], n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function keyBlock(keys: readonly string[]): Uint8Array | null {
  let size = 0;
  for (const k of keys) {
    if (k.length > 255 || k === '__proto__') return null;
    for (let i = 0; i < k.length; i++) if (k.charCodeAt(i) >= 0x80) return null;
    size += 1 + k.length;
  }
  const block = new Uint8Array(size);
  let p = 0;
  for (const k of keys) {
    block[p++] = k.length;
    for (let i = 0; i < k.length; i++) block[p++] = k.charCodeAt(i);
  }
  return block;
}

let compiledWriters = 0;

/**
 * The compiled writer of a record shape, from its second use (null before, and when it cannot be compiled). A value
 * read as `v[k]` with k a different string each time is a megamorphic keyed load (~100 instructions each, measured
 * by callgrind); `v["id"]` in code of its own is a load at a fixed name, cached for the one hidden class it sees.
 */
export function writerOf(shape: RecordShape): RecordWriter | null {
  if (shape.write === null && ++shape.uses === 2) shape.write = compileWriter(shape.keys);
  return shape.write;
}

/** Keys are quoted by `JSON.stringify` (no key can be more than a string literal); reads keep the key order. */
function compileWriter(keys: readonly string[]): RecordWriter | null {
  if (compiledWriters >= MAX_COMPILED) return null;
  compiledWriters++;
  const body = keys
    .map((k) => {
      const q = JSON.stringify(k);
      return `x = v[${q}]; if (x === undefined && !hasOwn(v, ${q})) throw refuse; writeValue(x, depth);`;
    })
    .join('\n');
  try {
    return new Function('hasOwn', `return function (v, depth, writeValue, refuse) { let x;\n${body}\n};`)(
      Object.hasOwn,
    ) as RecordWriter;
  } catch {
    return null; // --disallow-code-generation-from-strings: the loop of plain.ts
  }
}

// ---------------------------------------------------------------- decoder side

const DEC_SLOTS = 256;
const decCache: (DecodeShape | undefined)[] = new Array(DEC_SLOTS).fill(undefined);
let compiled = 0;

/** The shape of the key block of `n` bytes at `p` in `b`; throws on a malformed block (corrupt memory). */
export function builderFor(b: Uint8Array, p: number, n: number): DecodeShape {
  if (n === 0 || p + n > b.length) throw new Error('procq: corrupt plain frame (record key block)');
  const slot = (n * 31 + b[p]! * 7 + b[p + n - 1]! * 3 + b[p + (n >> 1)]!) & (DEC_SLOTS - 1);
  const hit = decCache[slot];
  if (hit !== undefined && sameBytes(hit.bytes, b, p, n)) {
    if (hit.build === null && ++hit.uses === 2) hit.build = compile(hit.keys);
    return hit;
  }
  const shape: DecodeShape = { bytes: b.slice(p, p + n), keys: parseKeys(b, p, n), build: null, uses: 0 };
  decCache[slot] = shape;
  return shape;
}

function sameBytes(a: Uint8Array, b: Uint8Array, p: number, n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[p + i]) return false;
  return true;
}

function parseKeys(b: Uint8Array, p: number, n: number): string[] {
  const keys: string[] = [];
  const end = p + n;
  while (p < end) {
    const len = b[p++]!;
    if (p + len > end || keys.length === MAX_RECORD_KEYS)
      throw new Error('procq: corrupt plain frame (record key block)');
    let k = '';
    for (let i = 0; i < len; i++) {
      const c = b[p + i]!;
      if (c >= 0x80) throw new Error('procq: corrupt plain frame (record key block)');
      k += String.fromCharCode(c);
    }
    keys.push(k);
    p += len;
  }
  return keys;
}

/**
 * `read => ({ "k1": read(), ... })`: values are read in source order (an object literal evaluates left to right),
 * and the object gets its keys in the order the encoder's `Object.keys` gave them (integer-like keys first, as
 * any object orders them). Keys are quoted by `JSON.stringify`, so no key can be more than a string literal.
 */
function compile(keys: readonly string[]): DecodeShape['build'] {
  if (compiled >= MAX_COMPILED || keys.includes('__proto__')) return null;
  compiled++;
  const body = `return {${keys.map((k) => `${JSON.stringify(k)}: read()`).join(', ')}};`;
  try {
    return new Function('read', body) as DecodeShape['build'];
  } catch {
    return null; // --disallow-code-generation-from-strings: build key by key
  }
}
