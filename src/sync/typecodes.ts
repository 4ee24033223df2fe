/**
 * Python's `array`/`ctypes` typecodes, and atomic element access for `Value` and `SharedArray`.
 *
 * Reads and writes of one element are atomic: integers of up to 32 bits through `Atomics` on their own view,
 * 64-bit integers through `Atomics` on a `BigInt64Array`/`BigUint64Array`, `'f'` through `Atomics` on its bits;
 * `'d'` (8 bytes, which `Atomics` cannot do) under the object's lock when it has one. Integers wrap on overflow,
 * as ctypes does.
 */
import { describe } from './core.js';

/** 64-bit integer typecodes: their elements are `bigint`s. (`'l'`/`'L'` are 64-bit, as C's `long` on Linux.) */
export type BigTypeCode = 'l' | 'L' | 'q' | 'Q';
export type NumberTypeCode = 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'f' | 'd';
export type TypeCode = BigTypeCode | NumberTypeCode;
/** Integer typecodes: a `number` given for one of them must be an integer (`TypeError` at run time otherwise). */
export type IntegerTypeCode = BigTypeCode | 'b' | 'B' | 'h' | 'H' | 'i' | 'I';

/**
 * A compile-time check of a literal initial value: for an integer typecode, a number literal that is not an
 * integer (`new Value('i', 1.5)`) does not compile. A value typed just `number` cannot be told apart at compile
 * time; it is checked at run time (`TypeError`), as every value stored is.
 */
export type IntegerLiteralCheck<C extends TypeCode, V> = C extends IntegerTypeCode
  ? number extends V
    ? unknown
    : V extends number
      ? `${V}` extends `${bigint}`
        ? unknown
        : { readonly 'an integer typecode takes an integer': never }
      : unknown
  : unknown;

/** The JavaScript type of an element: `bigint` for the 64-bit integer typecodes, else `number`. */
export type ElementOf<C extends TypeCode> = C extends BigTypeCode ? bigint : number;
/** What may be stored: a 64-bit typecode also takes a safe integer `number`. */
export type InputOf<C extends TypeCode> = C extends BigTypeCode ? bigint | number : number;

type View =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

interface CodeInfo {
  readonly size: number;
  readonly view: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => View;
  /** 'int' (<= 32 bits), 'big' (64-bit integer), 'f32', 'f64'. */
  readonly kind: 'int' | 'big' | 'f32' | 'f64';
}

const CODES: Record<TypeCode, CodeInfo> = {
  b: { size: 1, view: Int8Array, kind: 'int' },
  B: { size: 1, view: Uint8Array, kind: 'int' },
  h: { size: 2, view: Int16Array, kind: 'int' },
  H: { size: 2, view: Uint16Array, kind: 'int' },
  i: { size: 4, view: Int32Array, kind: 'int' },
  I: { size: 4, view: Uint32Array, kind: 'int' },
  l: { size: 8, view: BigInt64Array, kind: 'big' },
  L: { size: 8, view: BigUint64Array, kind: 'big' },
  q: { size: 8, view: BigInt64Array, kind: 'big' },
  Q: { size: 8, view: BigUint64Array, kind: 'big' },
  f: { size: 4, view: Float32Array, kind: 'f32' },
  d: { size: 8, view: Float64Array, kind: 'f64' },
};

export const TYPECODES = Object.keys(CODES) as TypeCode[];

export function checkTypeCode(typecode: unknown): TypeCode {
  if (typeof typecode !== 'string' || !Object.hasOwn(CODES, typecode)) {
    throw new TypeError(
      `Expected \`typecode\` to be one of ${TYPECODES.join(' ')}, got ${describe(typecode)}`,
    );
  }
  return typecode as TypeCode;
}

export function elementSize(typecode: TypeCode): number {
  return CODES[typecode].size;
}

/** Checks and converts one element for `typecode` (TypeError for the wrong type, as ctypes). */
export function checkElement(typecode: TypeCode, v: unknown, what = 'value'): number | bigint {
  const kind = CODES[typecode].kind;
  if (kind === 'big') {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    throw new TypeError(
      `Expected \`${what}\` to be a bigint or a safe integer for typecode '${typecode}', got ${describe(v)}`,
    );
  }
  if (typeof v !== 'number') {
    throw new TypeError(`Expected \`${what}\` to be a number for typecode '${typecode}', got ${describe(v)}`);
  }
  if (kind === 'int' && !Number.isInteger(v)) {
    throw new TypeError(
      `Expected \`${what}\` to be an integer for typecode '${typecode}', got ${describe(v)}`,
    );
  }
  return v;
}

/** Atomic element access over `length` elements at byte `byteOffset` of `buffer`. */
export class Elements {
  readonly typecode: TypeCode;
  readonly length: number;
  /** The elements as a typed array over the shared memory (plain, unlocked access). */
  readonly view: View;
  readonly #kind: CodeInfo['kind'];
  /** `'f'`: the same bytes as Int32, for atomic access to the bits. */
  readonly #bits: Int32Array | undefined;
  readonly #scratchF = new Float32Array(1);
  readonly #scratchI = new Int32Array(this.#scratchF.buffer);

  constructor(buffer: ArrayBufferLike, byteOffset: number, typecode: TypeCode, length: number) {
    const info = CODES[typecode];
    this.typecode = typecode;
    this.length = length;
    this.#kind = info.kind;
    this.view = new info.view(buffer, byteOffset, length);
    this.#bits = info.kind === 'f32' ? new Int32Array(buffer, byteOffset, length) : undefined;
  }

  /** Whether access needs the lock to be atomic (only `'d'`). */
  get needsLock(): boolean {
    return this.#kind === 'f64';
  }

  get(i: number): number | bigint {
    switch (this.#kind) {
      case 'f32':
        this.#scratchI[0] = Atomics.load(this.#bits!, i);
        return this.#scratchF[0]!;
      case 'f64':
        return this.view[i] as number;
      default:
        return Atomics.load(this.view as Int32Array, i);
    }
  }

  /** Stores an element already checked by `checkElement`. */
  set(i: number, v: number | bigint): void {
    switch (this.#kind) {
      case 'f32':
        this.#scratchF[0] = v as number;
        Atomics.store(this.#bits!, i, this.#scratchI[0]!);
        return;
      case 'f64':
        (this.view as Float64Array)[i] = v as number;
        return;
      default:
        Atomics.store(this.view as Int32Array, i, v as number);
    }
  }
}
