// Connection relaying: bytes from recvBytes() sent on with sendBytes() arrive through recv() as the value (Python:
// recv() is decode(recv_bytes())), while bytes sent as bytes stay bytes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as v8 from 'node:v8';
import { Pipe, Queue } from '../src/index.js';

const VALUES: unknown[] = [
  'a string',
  42,
  -0.5,
  null,
  true,
  { nested: [1, 'two', { three: 3n }] },
  new Map([['k', new Set([1, 2])]]),
  [undefined, new Date(0)],
];

describe('lossless relay through recvBytes / sendBytes', () => {
  test('recv() of relayed bytes gives the value back, sync and async', async () => {
    const [a, b] = Pipe();
    const [c, d] = Pipe();
    for (const value of VALUES) {
      a.send(value);
      const bytes = await b.recvBytes();
      assert.deepEqual(v8.deserialize(bytes), value, 'recvBytes gives the serialization');
      c.sendBytes(bytes);
      assert.deepEqual(await d.recv(), value);
      a.send(value);
      c.sendBytes(b.recvBytesSync());
      assert.deepEqual(d.recvSync(), value);
    }
    for (const end of [a, b, c, d]) end.close();
  });

  test('bytes sent as bytes stay bytes, relayed or not; a relay of a relay is still lossless', async () => {
    const [a, b] = Pipe();
    const raw = Buffer.from('raw bytes');
    a.sendBytes(raw);
    const got = await b.recv();
    assert.ok(got instanceof Uint8Array);
    assert.equal(Buffer.from(got).toString(), 'raw bytes');
    a.sendBytes(Uint8Array.of(0xff, 0x00, 0x01)); // starts like a serialization, is not one
    assert.deepEqual([...((await b.recv()) as Uint8Array)], [0xff, 0x00, 0x01]);
    a.send({ twice: true });
    a.sendBytes(await b.recvBytes()); // to b again
    a.sendBytes(await b.recvBytes()); // and again
    assert.deepEqual(await b.recv(), { twice: true });
    a.close();
    b.close();
  });

  test('procq objects survive the relay: the queue that arrives is the same queue', async () => {
    const [a, b] = Pipe();
    const q = new Queue<string>();
    a.send({ q });
    a.sendBytes(await b.recvBytes());
    const { q: relayed } = (await b.recv()) as { q: Queue<string> };
    relayed.putNowait('through the relayed handle');
    assert.equal(q.getNowait(), 'through the relayed handle');
    relayed.close();
    q.close();
    a.close();
    b.close();
  });
});
