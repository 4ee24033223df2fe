// Listener / Client / SocketConnection: CPython's _TestListener and _TestListenerClient ported (both start methods
// where a child is involved), the authentication (both sides fail on a wrong key), and interoperation with
// Python's own multiprocessing.connection when python3 is installed.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { answerChallenge, Client, deliverChallenge, Listener } from '../src/connection/index.js';
import { AuthenticationError, ClosedError, EOFError, TimeoutError } from '../src/errors.js';
import { Pipe, Process, Queue, type StartMethod } from '../src/index.js';
import { loadNative } from '../src/native/index.js';
import { noChildrenLeft, PROCESS_METHOD } from './helpers/util.js';

const TARGETS = new URL('./fixtures/connection-targets.js', import.meta.url);
const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';
const hasPython =
  spawnSync('python3', ['-c', 'import multiprocessing.connection'], { stdio: 'ignore' }).status === 0;
const FAMILIES = ['AF_INET', 'AF_UNIX'] as const;
const addressFor = (family: (typeof FAMILIES)[number]) =>
  family === 'AF_INET' ? (['127.0.0.1', 0] as const) : undefined;

afterEach(noChildrenLeft);

describe('_TestListener', () => {
  test('test_multiple_bind', async () => {
    for (const family of FAMILIES) {
      const l = await Listener.create(addressFor(family), { family });
      try {
        await assert.rejects(Listener.create(l.address, { family }), { code: 'EADDRINUSE' });
      } finally {
        l.close();
      }
    }
  });

  test('test_context', async () => {
    let l: Listener;
    {
      await using listener = await Listener.create();
      l = listener;
      using c = await Client(listener.address);
      using d = await listener.accept();
      c.send(1729);
      assert.equal(await d.recv(), 1729);
      assert.equal(typeof listener.address, 'string');
      assert.ok(existsSync(listener.address as string));
    }
    await assert.rejects(l.accept(), ClosedError);
    assert.equal(existsSync(l.address as string), false, 'the unix socket file is removed at close');
  });

  test('test_abstract_socket', {
    skip: process.platform !== 'linux' && 'abstract sockets are Linux only',
  }, async () => {
    let l: Listener;
    {
      await using listener = await Listener.create(`\0procq-test-${process.pid}`);
      l = listener;
      using client = await Client(listener.address);
      using d = await listener.accept();
      client.send(1729);
      assert.equal(await d.recv(), 1729);
    }
    await assert.rejects(l.accept(), ClosedError);
  });

  test('messages of every kind, in order, large ones whole; EOFError after the peer closes', async () => {
    const l = await Listener.create(['127.0.0.1', 0]);
    const c = await Client(l.address);
    const d = await l.accept();
    const big = Buffer.alloc(3 << 20, 9);
    const items = ['x', 0, -1.5, null, { a: [1, 'b'] }, new Map([[1, 2]]), 2n ** 70n, new Uint8Array([1, 2])];
    for (const it of items) c.send(it);
    c.sendBytes(big);
    c.sendBytes(Buffer.from('abcdef'), 2, 3);
    c.sendBytes(new Uint8Array(0));
    for (const it of items) assert.deepEqual(await d.recv(), it);
    assert.ok((await d.recvBytes()).equals(big));
    assert.equal((await d.recvBytes()).toString(), 'cde');
    assert.equal((await d.recvBytes()).byteLength, 0);
    c.sendBytes(Buffer.alloc(300));
    await assert.rejects(d.recvBytes(256), RangeError);
    assert.equal(await d.poll(), false);
    await assert.rejects(d.recv({ timeout: 20 }), TimeoutError);
    c.send('last');
    c.close();
    assert.equal(await d.recv(), 'last');
    await assert.rejects(d.recv(), EOFError);
    assert.equal(await d.poll(), true, 'poll is true at EOF, as recv returns at once');
    assert.throws(() => d.send('x'), { name: 'BrokenPipeError' });
    assert.throws(() => d.recvSync(), TypeError);
    d.close();
    l.close();
  });

  test('procq objects travel through a socket connection and arrive attached', {
    skip: !canSpawn && 'needs shm',
  }, async () => {
    const l = await Listener.create(['127.0.0.1', 0]);
    const c = await Client(l.address);
    const d = await l.accept();
    const q = new Queue<string>();
    c.send({ q });
    const { q: q2 } = (await d.recv()) as { q: Queue<string> };
    await q2.put('through');
    assert.equal(await q.get(), 'through');
    c.close();
    d.close();
    l.close();
  });

  test('bad arguments are TypeErrors at the call', async () => {
    assert.throws(() => new Listener(['127.0.0.1', -1] as never), TypeError);
    assert.throws(() => new Listener(undefined, { family: 'AF_PIPE' as never }), TypeError);
    assert.throws(() => new Listener(undefined, { authkey: 5 as never }), TypeError);
    await assert.rejects(Client(42 as never), TypeError);
    await assert.rejects(Client('/nonexistent/procq.sock'), { code: 'ENOENT' });
  });
});

describe('authentication (Python 3.12 challenge-response)', () => {
  for (const family of FAMILIES) {
    test(`same key: both sides authenticate (${family})`, async () => {
      const l = await Listener.create(addressFor(family), { family, authkey: 'secret' });
      const [c, d] = await Promise.all([Client(l.address, { authkey: Buffer.from('secret') }), l.accept()]);
      c.send('authenticated');
      assert.equal(await d.recv(), 'authenticated');
      c.close();
      d.close();
      l.close();
    });

    test(`wrong key: AuthenticationError on both sides (${family})`, async () => {
      const l = await Listener.create(addressFor(family), { family, authkey: 'secret' });
      const [client, server] = await Promise.allSettled([
        Client(l.address, { authkey: 'wrong' }),
        l.accept(),
      ]);
      assert.equal(client.status, 'rejected');
      assert.ok((client as PromiseRejectedResult).reason instanceof AuthenticationError);
      assert.equal(server.status, 'rejected');
      assert.ok((server as PromiseRejectedResult).reason instanceof AuthenticationError);
      l.close();
    });
  }

  test('a client without a key is refused by a listener with one', async () => {
    const l = await Listener.create(['127.0.0.1', 0], { authkey: 'secret' });
    const c = await Client(l.address);
    const accepted = l.accept();
    c.sendBytes(Buffer.from('not an answer'));
    await assert.rejects(accepted, AuthenticationError);
    c.close();
    l.close();
  });

  test('OtherTest: deliverChallenge / answerChallenge fail on a wrong digest', async () => {
    // Python's test_deliver_challenge_auth_failure / test_answer_challenge_auth_failure, over a Pipe.
    const [a, b] = Pipe<Uint8Array>();
    const server = deliverChallenge(a, 'abc');
    const challenge = await b.recvBytes();
    assert.ok(challenge.subarray(0, 11).equals(Buffer.from('#CHALLENGE#')));
    assert.ok(challenge.subarray(11, 19).equals(Buffer.from('{sha256}')));
    b.sendBytes(Buffer.from('{sha256}'.padEnd(40, 'x')));
    await assert.rejects(server, AuthenticationError);
    assert.equal((await b.recvBytes()).toString(), '#FAILURE#');

    const [c, d] = Pipe<Uint8Array>();
    const client = answerChallenge(c, 'abc');
    d.sendBytes(Buffer.concat([Buffer.from('#CHALLENGE#'), Buffer.alloc(20, 1)]));
    const answer = await d.recvBytes();
    assert.equal(answer.byteLength, 16, 'a legacy 20-byte challenge is answered with a raw HMAC-MD5');
    d.sendBytes(Buffer.from('#FAILURE#'));
    await assert.rejects(client, AuthenticationError);
  });
});

describe('_TestListenerClient', () => {
  for (const startMethod of [PROCESS_METHOD, 'thread'] as StartMethod[]) {
    const skip = startMethod !== 'thread' && !canSpawn && 'spawn needs the native addon';
    test(`test_listener_client (${startMethod})`, { skip }, async () => {
      for (const family of FAMILIES) {
        const l = await Listener.create(addressFor(family), { family });
        const p = new Process({
          target: 'sendHello',
          module: TARGETS,
          args: [l.address],
          startMethod,
          daemon: true,
        });
        p.start();
        const conn = await l.accept();
        assert.equal(await conn.recv(), 'hello');
        await p.join();
        assert.equal(p.exitCode, 0);
        conn.close();
        l.close();
      }
    });

    test(`test_issue14725: the client has connected, sent and closed before accept (${startMethod})`, {
      skip,
    }, async () => {
      const l = await Listener.create();
      const p = new Process({
        target: 'sendHello',
        module: TARGETS,
        args: [l.address],
        startMethod,
        daemon: true,
      });
      p.start();
      await p.join();
      const conn = await l.accept();
      assert.equal(await conn.recv(), 'hello');
      conn.close();
      l.close();
    });

    test(`a child with the wrong key: AuthenticationError in the child and in accept (${startMethod})`, {
      skip,
    }, async () => {
      const l = await Listener.create(['127.0.0.1', 0], { authkey: 'right' });
      const [report, childEnd] = Pipe();
      const p = new Process({
        target: 'connectAndReport',
        module: TARGETS,
        args: [l.address, 'wrong', childEnd],
        startMethod,
        daemon: true,
      });
      p.start();
      await assert.rejects(l.accept(), AuthenticationError);
      assert.equal(await report.recv({ timeout: 30_000 }), 'AuthenticationError');
      await p.join();
      l.close();
    });
  }

  test('test_issue16955: poll sees a message', async () => {
    for (const family of FAMILIES) {
      const l = await Listener.create(addressFor(family), { family });
      const c = await Client(l.address);
      const a = await l.accept();
      a.sendBytes(Buffer.from('hello'));
      assert.equal(await c.poll(1000), true);
      a.close();
      c.close();
      l.close();
    }
  });
});

describe('interoperation with Python', { skip: !hasPython && 'python3 not installed' }, () => {
  test('a Python Client authenticates to a procq Listener and exchanges bytes, and the reverse', async () => {
    const l = await Listener.create(['127.0.0.1', 0], { authkey: 'shared key' });
    const [host, port] = l.address as [string, number];
    const py = spawn('python3', [
      '-c',
      `from multiprocessing.connection import Client, Listener
c = Client(('${host}', ${port}), authkey=b'shared key')
c.send_bytes(b'from python')
c.send_bytes(c.recv_bytes().upper())
with Listener(('127.0.0.1', 0), authkey=b'shared key') as l:
    c.send_bytes(str(l.address[1]).encode())
    with l.accept() as d:
        d.send_bytes(b'python listener')
        d.send_bytes(d.recv_bytes())
c.recv_bytes()`,
    ]);
    let stderr = '';
    py.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => py.on('exit', (code) => r(code)));
    const conn = await l.accept();
    assert.equal((await conn.recvBytes()).toString(), 'from python');
    conn.sendBytes(Buffer.from('shout'));
    assert.equal((await conn.recvBytes()).toString(), 'SHOUT');
    const pyPort = Number((await conn.recvBytes()).toString());
    const d = await Client(['127.0.0.1', pyPort], { authkey: 'shared key' });
    assert.equal((await d.recvBytes()).toString(), 'python listener');
    d.sendBytes(Buffer.from('echo'));
    assert.equal((await d.recvBytes()).toString(), 'echo');
    d.close();
    conn.sendBytes(Buffer.from('bye'));
    assert.equal(await exited, 0, stderr);
    conn.close();
    l.close();
  });

  test('a Python Client with the wrong key is refused', async () => {
    const l = await Listener.create(['127.0.0.1', 0], { authkey: 'right' });
    const [host, port] = l.address as [string, number];
    const child = spawn('python3', [
      '-c',
      `from multiprocessing.connection import Client, AuthenticationError
try:
    Client(('${host}', ${port}), authkey=b'wrong')
except AuthenticationError:
    print('refused')`,
    ]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.on('exit', r));
    await assert.rejects(l.accept(), AuthenticationError);
    await exited;
    assert.equal(out.trim(), 'refused');
    l.close();
  });
});
