// Pipe and Connection: semantics in one thread, then the same pipe across threads and processes (both start
// methods). Peers coordinate through the pipe itself or shared objects, never through sleeps; waits are bounded.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import * as v8 from 'node:v8';
import { ClosedError, EOFError, TimeoutError } from '../src/errors.js';
import { Process, Queue, type StartMethod } from '../src/index.js';
import { loadNative } from '../src/native/index.js';
import { BrokenPipeError, Connection, Pipe } from '../src/pipe/index.js';
import { Event, Lock, Value } from '../src/sync/index.js';
import { noChildrenLeft, noPidSteering, occupy, PROCESS_METHOD } from './helpers/util.js';

const TARGETS = new URL('./fixtures/pipe-targets.js', import.meta.url);
const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';
/** Without shared memory that processes can map, procq objects cannot travel inside messages (TypeError). */
const noShm = !canSpawn && 'thread-only segments cannot travel inside messages';
/** Without the native addon, whether a thread is alive cannot be told: no dead-holder detection. */
const noLiveness = loadNative() === null && 'no native addon: liveness of a holder cannot be told';

afterEach(noChildrenLeft);

/** One of each kind of message a Connection carries (the fast paths and structured clone). */
function everyKind(): unknown[] {
  return [
    'ascii',
    'ünïcödé ✓ 🎉',
    'x'.repeat(20_000),
    '',
    0,
    -1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
    undefined,
    new Uint8Array([1, 2, 3]),
    Buffer.from('buffer'),
    { a: 1, nested: { b: [1, 'two', null] } },
    [1, [2, [3]]],
    new Map<unknown, unknown>([
      ['k', 1],
      [2, { v: true }],
    ]),
    new Set([1, 'a']),
    new Date(1_700_000_000_000),
    /re+gex/gi,
    2n ** 70n,
    new Float64Array([0.5, 1.5]),
    new RangeError('an error'),
  ];
}

function assertSameMessage(got: unknown, sent: unknown): void {
  if (sent instanceof Error) {
    assert.ok(got instanceof Error);
    assert.equal(got.message, sent.message);
    assert.equal(got.name, sent.name);
  } else {
    assert.deepEqual(got, sent);
  }
}

describe('Pipe (one thread)', () => {
  test('duplex: each end sends to and receives from the other, in order', async () => {
    const [a, b] = Pipe();
    assert.ok(a instanceof Connection);
    assert.equal(a.readable && a.writable && b.readable && b.writable, true);
    a.send('to b');
    a.send(2);
    b.send({ to: 'a' });
    assert.equal(await b.recv(), 'to b');
    assert.equal(b.recvSync(), 2);
    assert.deepEqual(await a.recv(), { to: 'a' });
    a.close();
    b.close();
  });

  test('every kind of message arrives equal (sync and async receives)', async () => {
    const [a, b] = Pipe();
    const kinds = everyKind();
    for (const m of kinds) a.send(m);
    for (let i = 0; i < kinds.length; i++) {
      assertSameMessage(i % 2 ? b.recvSync() : await b.recv(), kinds[i]);
    }
    assert.equal(b.pollSync(), false);
  });

  test('one-way: the first end only receives, the second only sends', async () => {
    const [reader, writer] = Pipe(false);
    assert.deepEqual(
      [reader.readable, reader.writable, writer.readable, writer.writable],
      [true, false, false, true],
    );
    writer.send('one way');
    assert.equal(await reader.recv(), 'one way');
    assert.throws(() => reader.send('x'), TypeError);
    assert.throws(() => writer.recvSync(), TypeError);
    await assert.rejects(writer.recv(), TypeError);
    assert.throws(() => Pipe('yes' as never), TypeError);
  });

  test('close: the other end drains, then EOFError; its send is a BrokenPipeError; this end is closed here', async () => {
    const [a, b] = Pipe();
    a.send(1);
    a.send(2);
    a.close();
    a.close(); // idempotent
    assert.equal(a.closed, true);
    assert.equal(b.pollSync(), true);
    assert.equal(await b.recv(), 1);
    assert.equal(b.recvSync(), 2);
    assert.equal(await b.poll(), true, 'poll is true at EOF: recv would not wait');
    await assert.rejects(b.recv(), EOFError);
    assert.throws(() => b.recvSync(), EOFError);
    assert.throws(() => b.send('late'), BrokenPipeError);
    assert.throws(() => a.send('x'), ClosedError);
    await assert.rejects(a.recv(), ClosedError);
    const [c, d] = Pipe(false);
    d.close();
    await assert.rejects(c.recv({ timeout: 10_000 }), EOFError);
  });

  test('poll: 0 by default (no wait), a timeout, or until a message arrives', async () => {
    const [a, b] = Pipe();
    assert.equal(await b.poll(), false);
    assert.equal(b.pollSync(0), false);
    const t0 = performance.now();
    assert.equal(await b.poll(30), false);
    assert.equal(b.pollSync({ timeout: 30 }), false);
    assert.ok(performance.now() - t0 >= 50);
    const waiting = b.poll(null);
    a.send('now');
    assert.equal(await waiting, true);
    assert.equal(await b.poll({ timeout: 0 }), true);
    assert.equal(await b.recv(), 'now');
    assert.equal(b.pollSync(-1), false, 'a negative timeout is 0');
    assert.throws(() => b.pollSync(Number.NaN), RangeError);
    await assert.rejects(b.poll('1' as never), TypeError);
  });

  test('recv: timeout is a TimeoutError; abort rejects with AbortError and takes nothing', async () => {
    const [a, b] = Pipe();
    await assert.rejects(b.recv({ timeout: 20 }), TimeoutError);
    assert.throws(() => b.recvSync({ timeout: 20 }), TimeoutError);
    const ac = new AbortController();
    const pending = b.recv({ signal: ac.signal });
    ac.abort('enough');
    await assert.rejects(pending, (err: any) => err.name === 'AbortError' && err.cause === 'enough');
    a.send('kept');
    assert.equal(await b.recv(), 'kept', 'the aborted recv took nothing');
    await assert.rejects(b.recv({ signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  test('sendBytes / recvBytes: offsets and sizes in bytes, maxlength, other messages as their serialization', async () => {
    const [a, b] = Pipe();
    a.sendBytes(Buffer.from('hello world'));
    a.sendBytes(Buffer.from('hello world'), 6);
    a.sendBytes(new Uint16Array([1, 2, 3]), 2, 2);
    a.sendBytes(new Uint8Array([9, 9]).buffer);
    assert.equal((await b.recvBytes()).toString(), 'hello world');
    assert.equal(b.recvBytesSync().toString(), 'world');
    assert.deepEqual([...(await b.recvBytes())], [2, 0]);
    assert.deepEqual([...b.recvBytesSync(2)], [9, 9]);
    a.send({ not: 'bytes' });
    assert.deepEqual(v8.deserialize(await b.recvBytes()), { not: 'bytes' });
    a.sendBytes(Buffer.alloc(10));
    await assert.rejects(b.recvBytes(5), RangeError);
    assert.throws(() => a.sendBytes(Buffer.alloc(4), 5), RangeError);
    assert.throws(() => a.sendBytes(Buffer.alloc(4), 1, 4), RangeError);
    assert.throws(() => a.sendBytes('text' as never), TypeError);
    assert.throws(() => b.recvBytesSync(-1), RangeError);
  });

  test('a message larger than the ring arrives whole; many messages keep their order', async () => {
    const [a, b] = Pipe();
    const big = Buffer.alloc(3 << 20, 0xab);
    a.sendBytes(big);
    for (let i = 0; i < 10_000; i++) a.send(i);
    assert.ok((await b.recvBytes()).equals(big));
    for (let i = 0; i < 10_000; i++) assert.equal(b.recvSync(), i);
  });

  test('for await yields until EOF; using closes', async () => {
    const [a, b] = Pipe();
    {
      using w = a;
      w.send('x');
      w.send('y');
    }
    assert.equal(a.closed, true);
    const got: unknown[] = [];
    for await (const m of b) got.push(m);
    assert.deepEqual(got, ['x', 'y']);
  });

  test('a Connection inside a queue item or a message arrives as a new holder of the same end', {
    skip: noShm,
  }, async () => {
    const [a, b] = Pipe();
    const q = new Queue();
    await q.put({ end: b });
    const { end } = (await q.get()) as { end: Connection };
    assert.notEqual(end, b);
    b.close(); // the copy still holds the end open
    a.send('via copy');
    assert.equal(await end.recv(), 'via copy');
    const [c, d] = Pipe();
    c.send(a);
    const a2 = (await d.recv()) as Connection;
    a.close();
    a2.send('from the second copy');
    assert.equal(await end.recv(), 'from the second copy');
    a2.close(); // the last holder of that end: the other side reads EOF
    await assert.rejects(end.recv({ timeout: 10_000 }), EOFError);
    assert.throws(() => q.putNowait(a as never), ClosedError, 'a closed Connection cannot be sent');
  });
});

for (const method of ['thread', PROCESS_METHOD] as const satisfies readonly StartMethod[]) {
  describe(`Pipe across ${method === 'thread' ? 'threads' : 'processes'} (${method})`, {
    skip: method !== 'thread' && !canSpawn && 'no native addon',
  }, () => {
    const start = (target: string, args: unknown[]) => {
      const p = new Process({ target, args, module: TARGETS, startMethod: method });
      p.start();
      return p;
    };
    const joined = async (p: Process) => {
      await p.join(20_000);
      assert.equal(p.exitCode, 0);
    };

    for (const target of ['echo', 'echoSync']) {
      test(`duplex: a child (${target}) sends back every kind of message; EOF both ways after close`, async () => {
        const [mine, theirs] = Pipe();
        const p = start(target, [theirs]);
        theirs.close(); // Python's idiom: the child holds its own copy now
        const kinds = everyKind();
        for (const m of kinds) mine.send(m);
        for (const m of kinds) assertSameMessage(await mine.recv({ timeout: 20_000 }), m);
        mine.close();
        await joined(p);
      });
    }

    test('one-way: a child writes and closes; everything arrives, then EOFError', async () => {
      const [reader, writer] = Pipe(false);
      const p = start('writeAndClose', [writer, 1000, 1 << 20]);
      writer.close();
      for (let i = 0; i < 1000; i++) assert.equal(reader.recvSync({ timeout: 20_000 }), i);
      assert.equal((await reader.recvBytes(undefined, { timeout: 20_000 })).length, 1 << 20);
      await assert.rejects(reader.recv({ timeout: 20_000 }), EOFError);
      await joined(p);
    });

    test('a child killed while holding the other end: the reader gets EOFError (no close needed)', {
      skip: noLiveness,
    }, async () => {
      const [reader, writer] = Pipe(false);
      const ready = new Event();
      const p = start('holdForever', [writer, ready]);
      writer.close();
      assert.equal(await ready.wait(20_000), true);
      assert.equal(await reader.recv({ timeout: 20_000 }), 'hello');
      assert.equal(await reader.poll(), false);
      p.kill();
      await p.join(20_000);
      await assert.rejects(reader.recv({ timeout: 20_000 }), EOFError);
    });

    // A thread has no pid of its own to hand to another process.
    if (method !== 'thread')
      test("a child killed while holding the other end, its pid now another process's: the reader still gets EOFError", {
        skip: noLiveness || noPidSteering(),
      }, async () => {
        const [reader, writer] = Pipe(false);
        const ready = new Event();
        const p = start('holdForever', [writer, ready]);
        writer.close();
        assert.equal(await ready.wait(20_000), true);
        assert.equal(await reader.recv({ timeout: 20_000 }), 'hello');
        assert.deepEqual(reader.stats().holders, [1, 1], 'the child alone holds the writing end');
        const pid = p.pid!;
        p.kill();
        await p.join(20_000);
        // Its holder slot names its tid (= its pid): an unrelated process that now has that pid is not the holder.
        const stranger = await occupy(pid);
        try {
          await assert.rejects(reader.recv({ timeout: 5000 }), EOFError);
        } finally {
          stranger.kill('SIGKILL');
        }
      });

    test('procq objects sent through the pipe arrive attached (a Value with its lock)', {
      skip: noShm,
    }, async () => {
      const [mine, theirs] = Pipe();
      const p = start('useReceived', [theirs]);
      theirs.close();
      const value = new Value('i', 40, { lock: new Lock() });
      mine.send({ value, by: 2 });
      assert.equal(await mine.recv({ timeout: 20_000 }), 'done');
      await assert.rejects(mine.recv({ timeout: 20_000 }), EOFError);
      assert.equal(value.value, 42);
      await joined(p);
    });
  });
}
