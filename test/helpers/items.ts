// Items for the round-trip tests: one of each kind the contract names (what structured clone accepts, and the fast
// paths: strings, numbers, byte arrays, constants). Compared with assert.deepStrictEqual, which tells -0 from 0,
// a Buffer from a Uint8Array and one typed-array kind from another.

/** A label, the item, and what must arrive when that differs from the item (what `postMessage` delivers). */
export type Sample = readonly [label: string, value: unknown, expected?: unknown];

/** Items the plain-object fast path must refuse, so they arrive exactly as structured clone delivers them. */
function cloneSemantics(): Sample[] {
  class Job {
    id = 1;
    name = 'job-1';
    tags = ['alpha'];
    describe(): string {
      return this.name;
    }
  }
  const withGetter = {
    plain: 1,
    get computed(): number {
      return 42;
    },
  };
  const cyclicArray: unknown[] = [1];
  cyclicArray.push(cyclicArray);
  const sym = { visible: 1, [Symbol('hidden')]: 2 };
  const nonEnumerable = Object.defineProperty({ shown: 1 }, 'hidden', { value: 2, enumerable: false });
  const samples: Array<[string, unknown]> = [
    ['job object (the plain fast path)', { id: 7, name: 'job-7', tags: ['alpha', 'beta'], prio: 2 }],
    ['class instance (arrives as a plain object)', new Job()],
    ['object with a getter (its value is copied)', withGetter],
    ['null-prototype object', Object.assign(Object.create(null), { a: 1, b: 'two' })],
    ['object with a symbol key and a non-enumerable property', { sym, nonEnumerable }],
    ['cyclic array', cyclicArray],
    ['array with an extra property', Object.assign([1, 2], { extra: 'x' })],
    ['object holding a Map and a Date', { m: new Map([['k', { v: 1 }]]), d: new Date(7) }],
    ['object with a __proto__ own key', JSON.parse('{"__proto__": {"x": 1}, "y": 2}')],
    ['object with -0, NaN and undefined values', { z: -0, n: Number.NaN, u: undefined, big: 2 ** 40 }],
    [
      'same object twice in one item',
      (() => {
        const o = { id: 1 };
        return { a: o, b: [o, o] };
      })(),
    ],
  ];
  return samples.map(([label, value]) => [label, value, structuredClone(value)]);
}

/** A string of `bytes` UTF-8 bytes mixing ASCII, Chinese (3 bytes) and emoji (4 bytes, a surrogate pair). */
export function unicodeText(bytes: number): string {
  const unit = 'message 消息 🎉👍🏽 '; // 8 + 6 + 1 + 4 + 8 + 1 = 28 bytes
  return unit.repeat(Math.ceil(bytes / 28));
}

export function sampleItems(): Sample[] {
  const cyclic: { name: string; self?: unknown } = { name: 'cyclic' };
  cyclic.self = cyclic;
  const shared = { shared: true };
  const pooled = Buffer.from('a small pooled Buffer'); // a view into Node's 8 KiB pool: byteOffset > 0, usually
  const big = new Uint8Array(64).map((_, i) => i);
  const typed: Sample[] = [
    ['Int8Array', new Int8Array([-128, -1, 0, 1, 127])],
    ['Uint8Array', new Uint8Array([0, 1, 254, 255])],
    ['Uint8ClampedArray', new Uint8ClampedArray([0, 128, 255])],
    ['Int16Array', new Int16Array([-32768, 0, 32767])],
    ['Uint16Array', new Uint16Array([0, 65535])],
    ['Int32Array', new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
    ['Uint32Array', new Uint32Array([0, 2 ** 32 - 1])],
    ['Float32Array', new Float32Array([1.5, -0, Number.NaN, Number.POSITIVE_INFINITY])],
    ['Float64Array', new Float64Array([Math.PI, -0, Number.NaN, Number.NEGATIVE_INFINITY])],
    ['BigInt64Array', new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
    ['BigUint64Array', new BigUint64Array([0n, 2n ** 64n - 1n])],
    ['empty Uint8Array', new Uint8Array(0)],
    ['Uint8Array view with an offset', big.subarray(10, 20)],
    ['Float64Array view with an offset', new Float64Array(new ArrayBuffer(64), 16, 3).fill(2.5)],
    ['DataView', new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2)],
    ['ArrayBuffer', new Uint8Array([9, 8, 7]).buffer],
  ];
  return [
    ['empty string', ''],
    ['ASCII string', 'message 1'],
    ['Chinese string', '消息'],
    ['Latin-1 string (not ASCII)', 'café naïve ÿ'],
    ['emoji and surrogate pairs', '👍🏽 🎉 𝄞 family: 👨‍👩‍👧‍👦'],
    ['string with NUL and control characters', 'a\u0000b\u0001\n\r\t'],
    ['long ASCII string (> 16 KiB)', 'ascii-'.repeat(5000)],
    ['long Unicode string (> 16 KiB)', unicodeText(40_000)],
    ['string of exactly 16384 UTF-16 units, all 3-byte', '消'.repeat(16384)],
    ['string of 16385 UTF-16 units', 'é'.repeat(16385)],
    ['zero', 0],
    ['negative zero', -0],
    ['integer', 42],
    ['negative float', -3.25],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['MAX_SAFE_INTEGER + 2', Number.MAX_SAFE_INTEGER + 2],
    ['MIN_VALUE', Number.MIN_VALUE],
    ['true', true],
    ['false', false],
    ['null', null],
    ['undefined', undefined],
    ['bigint 0n', 0n],
    ['big bigint', 123456789012345678901234567890n],
    ['negative bigint', -(2n ** 100n)],
    ['Date', new Date('2024-02-29T12:34:56.789Z')],
    ['Date at the epoch', new Date(0)],
    ['RegExp', /ab+c/gi],
    ['Unicode RegExp', /消息\p{L}+/u],
    [
      'Map',
      new Map<unknown, unknown>([
        [1, 'one'],
        ['k', { x: [1, 2] }],
        [null, undefined],
      ]),
    ],
    ['Set', new Set<unknown>([1, 'a', null, 2n])],
    ['empty object', {}],
    [
      'nested object',
      {
        a: [1, { b: new Map([['c', new Set([1n, 'd'])]]) }],
        d: { e: null, f: undefined, g: [new Date(5), /x/] },
        消息: 'key in Chinese',
      },
    ],
    ['cyclic object', cyclic],
    ['shared references', { x: shared, y: shared }],
    ['empty array', []],
    ['mixed array', [1, 'two', [3, [4n]], { five: 5 }, null, undefined]],
    // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested
    ['sparse array', [1, , 3]],
    ['boxed primitives', [new String('boxed'), new Number(-0), new Boolean(false)]],
    ...typed,
    ['Buffer', Buffer.from([0, 1, 2, 250])],
    ['pooled Buffer (a view with an offset)', pooled],
    ['empty Buffer', Buffer.alloc(0)],
    ['large Uint8Array (100 KiB)', new Uint8Array(100 * 1024).map((_, i) => i & 0xff)],
    ['Buffer inside an object', { buf: Buffer.from('in an object'), u8: new Uint8Array([1]) }],
    ['Error', new Error('boom')],
    ['TypeError', new TypeError('bad type')],
    ['RangeError inside an array', [new RangeError('out of range')]],
    ...cloneSemantics(),
  ];
}

/** Items of `size` bytes each, of the kinds with fast paths and one structured; contents differ per index. */
export function bigItems(size: number): Sample[] {
  const bytes = (seed: number) => {
    const b = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) b[i] = (i / 4096 + seed) & 0xff;
    b[size - 1] = seed;
    return b;
  };
  const buf = Buffer.from(bytes(1).buffer);
  const f64 = new Float64Array(size / 8);
  f64[0] = 1;
  f64[f64.length - 1] = -1;
  return [
    ['Uint8Array', bytes(2)],
    ['Buffer', buf],
    ['ASCII string', `${'a'.repeat(size - 3)}end`],
    ['Unicode string', `${unicodeText(size / 2)}消息`], // whole surrogate pairs only: see the lone-surrogate test
    ['Float64Array (structured clone)', f64],
  ];
}

/** The bytes a typed array views (not its whole buffer: a decoded view may sit inside a larger one). */
export function bytesOf(v: unknown): Buffer {
  const view = v as ArrayBufferView;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
