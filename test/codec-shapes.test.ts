// The plain codec's records (objects whose key list is cached as a shape on both sides): every frame must decode
// alone and exactly as structured clone would give it, whatever shapes came before, in whatever consumer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Process, Queue } from '../src/index.js';
import { lengthItem, shapeItem, shapeMismatch } from './fixtures/shape-items.js';
import { PROCESS_METHOD } from './helpers/util.js';

const roundTrip = (q: Queue<unknown>, v: unknown): unknown => {
  q.putSync(v);
  return q.getSync();
};

/** Keys in order, nested, with -0 told apart: what `deepStrictEqual` does not check. */
const keyOrder = (v: unknown): string =>
  typeof v === 'object' && v !== null
    ? `{${Object.keys(v).map((k) => `${k}:${keyOrder((v as Record<string, unknown>)[k])}`)}}`
    : Object.is(v, -0)
      ? '-0'
      : typeof v;

test('one shape with values of every type in turn: each arrives as structured clone gives it', () => {
  const q = new Queue<unknown>();
  const values: unknown[] = [
    1,
    -1,
    2 ** 31,
    -(2 ** 31) - 1,
    0.5,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    'ascii',
    'café',
    '消息',
    '\uD800',
    '',
    'sixteen-chars-xy',
    'seventeen-chars-x',
    true,
    false,
    null,
    undefined,
    [],
    [1, 'two', [3]],
    { nested: { deeper: 1 } },
    {},
    new Date(5),
    new Map([[1, 2]]),
  ];
  for (let round = 0; round < 3; round++) {
    for (const v of values) {
      const item = { a: v, b: values[(values.indexOf(v) + 7) % values.length], c: round };
      const got = roundTrip(q, item);
      assert.deepStrictEqual(got, structuredClone(item));
      assert.equal(keyOrder(got), keyOrder(structuredClone(item)));
    }
  }
  q.close();
});

test('the same keys in another order, integer-like keys, an own __proto__, a missing vs an undefined key', () => {
  const q = new Queue<unknown>();
  const items: unknown[] = [
    { a: 1, b: 2, c: 3 },
    { c: 3, b: 2, a: 1 },
    { b: 2, a: 1, c: 3 },
    { b: 1, 10: 'ten', a: 2, 2: 'two', [-1]: 'minus one', '01': 'not an index' },
    JSON.parse('{"x": 1, "__proto__": {"polluted": true}, "y": 2}'),
    { a: 1, b: undefined },
    { a: 1 },
    Object.assign(Object.create(null), { a: 1, b: 2 }),
    { '': 'empty key', k: 1 },
    { ['k'.repeat(255)]: 1, ['j'.repeat(256)]: 2 },
    { ['k'.repeat(255)]: 3 },
    { é: 'a non-ASCII key', a: 1 },
    { a: 'x'.repeat(40_000) },
  ];
  for (let round = 0; round < 3; round++) {
    for (const item of items) {
      const got = roundTrip(q, item) as Record<string, unknown>;
      const want = structuredClone(item);
      assert.deepStrictEqual(got, want);
      assert.equal(keyOrder(got), keyOrder(want));
      assert.equal(Object.getPrototypeOf(got), Object.prototype);
      assert.equal(Object.hasOwn(got, 'b'), Object.hasOwn(item as object, 'b'));
    }
  }
  const proto = roundTrip(q, items[4]) as Record<string, unknown>;
  assert.ok(Object.hasOwn(proto, '__proto__'), '__proto__ stays an own property');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  q.close();
});

test('a getter is read once, as clone reads it; a getter that adds a key or deletes a later one gives what clone gives', () => {
  const q = new Queue<unknown>();
  let reads = 0;
  const item = {
    a: 1,
    get b() {
      reads++;
      return 'got';
    },
  };
  for (let i = 0; i < 3; i++) assert.deepStrictEqual(roundTrip(q, item), { a: 1, b: 'got' });
  assert.equal(reads, 3);
  const growing: Record<string, unknown> = {
    get first() {
      growing.added = 1; // after the keys were listed: not in this item
      return 1;
    },
    second: 2,
  };
  for (let i = 0; i < 3; i++) {
    delete growing.added;
    assert.deepStrictEqual(roundTrip(q, growing), { first: 1, second: 2 });
  }
  // A getter that deletes a later key: clone leaves that key out (it is not there when its turn comes).
  const shrinking = () => {
    const o: Record<string, unknown> = {
      get a() {
        delete o.b;
        return 1;
      },
      b: 2,
      c: 3,
    };
    return o;
  };
  for (let i = 0; i < 3; i++) {
    const want = structuredClone(shrinking());
    assert.deepStrictEqual(want, { a: 1, c: 3 });
    assert.deepStrictEqual(roundTrip(q, shrinking()), want);
  }
  q.close();
});

test('keys that are not identifiers (quotes, backslashes, newlines, code) keep their values once the shape is compiled', () => {
  // From its second use a shape's values are written (and from its second decode read) by compiled code: a key is
  // only ever a quoted string there.
  const q = new Queue<unknown>();
  const keys = ['a"b', "c'd", 'e\\', 'f\ng', '}; throw 1; {', `\${x}`, '0', 'constructor', 'toString', ''];
  for (let round = 0; round < 4; round++) {
    const item: Record<string, unknown> = {};
    for (const [i, k] of keys.entries()) item[k] = `${k}:${round}:${i}`;
    const got = roundTrip(q, item);
    assert.deepStrictEqual(got, structuredClone(item));
    assert.equal(keyOrder(got), keyOrder(item));
  }
  q.close();
});

test('an enumerable key inherited from a polluted Object.prototype is never taken for an own key', () => {
  const q = new Queue<unknown>();
  const proto = Object.prototype as Record<string, unknown>;
  try {
    for (let i = 0; i < 3; i++) assert.deepStrictEqual(roundTrip(q, { a: i, b: 'x' }), { a: i, b: 'x' });
    proto.b = 'inherited'; // enumerable: for-in lists it after the own keys
    for (let i = 0; i < 3; i++) {
      const got = roundTrip(q, { a: i }) as Record<string, unknown>;
      assert.ok(!Object.hasOwn(got, 'b'), 'b is not an own key of the copy');
      assert.deepEqual(Object.keys(got), ['a']);
      assert.equal(keyOrder(roundTrip(q, { a: i, b: 'own' })), keyOrder({ a: i, b: 'own' }));
    }
  } finally {
    delete proto.b;
  }
  q.close();
});

test('plain frames of every length up to past the word-copy limit, across ring wraps and after a larger item: every item exact', async () => {
  // A small ring wraps every few items; lengths cover every remainder mod 4 (whole words, then 0-3 bytes) and
  // cross the 1,024-byte limit of the word copy. A larger item first leaves other bytes in the encoder's scratch.
  const q = new Queue<unknown>({ capacityBytes: 4096 });
  const big = { junk: 'z'.repeat(3000), n: -1 };
  assert.deepStrictEqual(roundTrip(q, big), big);
  const items = Array.from({ length: 1100 }, (_, i) => lengthItem(i));
  for (const item of items) assert.deepStrictEqual(roundTrip(q, item), item);
  // The same items to a consumer thread, several in flight at once.
  const out = new Queue<string[]>();
  const module = new URL('./fixtures/shape-items.js', import.meta.url);
  const p = new Process({
    target: 'takeLengths',
    module,
    args: [q, out, items.length],
    startMethod: 'thread',
  });
  p.start();
  for (const item of items) q.putSync(item);
  assert.deepEqual(await out.get({ timeout: 30_000 }), []);
  await p.join(20_000);
  assert.equal(p.exitCode, 0);
  q.close();
  out.close();
});

test('more shapes than either cache holds, each seen several times and interleaved: every item exact', () => {
  const q = new Queue<unknown>();
  const shapes = 1500; // past the encoder's 64 and the decoder's 256 slots
  const make = (s: number, i: number) => ({ [`k${s}`]: i, [`s${s % 7}`]: `v${i}`, [`t${s % 13}`]: [s, i] });
  for (let round = 0; round < 3; round++) {
    for (let s = 0; s < shapes; s += 50) {
      const batch = [];
      for (let j = s; j < s + 50; j++) batch.push(make((j * 37) % shapes, round));
      q.putManySync(batch);
      const got = q.getManySync(50);
      assert.deepStrictEqual(got, batch);
      for (let j = 0; j < 50; j++) assert.equal(keyOrder(got[j]), keyOrder(batch[j]));
    }
  }
  q.close();
});

test('shapes first met by consumers that start late (a thread, then a process) decode from the frames alone', async () => {
  const q = new Queue<unknown>();
  const out = new Queue<string[]>();
  const module = new URL('./fixtures/shape-items.js', import.meta.url);
  // This thread encodes and decodes items 0..299 first: its caches hold every recurring shape.
  for (let i = 0; i < 300; i++) q.putSync(shapeItem(i));
  for (let i = 0; i < 300; i++) assert.equal(shapeMismatch(i, q.getSync()), '');
  // Then a thread and a process that never saw a frame take the next ones (the encoder's caches stay warm).
  for (const [startMethod, first] of [
    ['thread', 300],
    [PROCESS_METHOD, 600],
  ] as const) {
    for (let i = first; i < first + 300; i++) q.putSync(shapeItem(i));
    const p = new Process({ target: 'takeAndCheck', module, args: [q, out, first, 300], startMethod });
    p.start();
    assert.deepEqual(await out.get({ timeout: 30_000 }), [], `${startMethod} consumer`);
    await p.join(20_000);
    assert.equal(p.exitCode, 0);
  }
  q.close();
  out.close();
});

test('without code generation from strings, records are built key by key and arrive the same', () => {
  const script = `
    import { Queue } from ${JSON.stringify(fileURLToPath(new URL('../src/index.js', import.meta.url)))};
    import { shapeItem, shapeMismatch } from ${JSON.stringify(fileURLToPath(new URL('./fixtures/shape-items.js', import.meta.url)))};
    const q = new Queue();
    let wrong = 0;
    for (let i = 0; i < 600; i++) { q.putSync(shapeItem(i)); if (shapeMismatch(i, q.getSync()) !== '') wrong++; }
    let blocked = false;
    try { new Function('return 1'); } catch { blocked = true; }
    console.log(JSON.stringify({ wrong, blocked }));
    q.close();`;
  const r = spawnSync(
    process.execPath,
    ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { wrong: 0, blocked: true });
});
