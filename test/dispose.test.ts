// Queues are Disposable and AsyncDisposable: `using` closes the queue in this process (close()'s rule: other
// holders are unaffected, items already put stay queued).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClosedError, JoinableQueue, Queue, SimpleQueue } from '../src/index.js';

test('using closes a Queue, JoinableQueue and SimpleQueue at the end of the scope; items stay queued', () => {
  const other = new Queue<number>();
  let scoped: Queue<number> | undefined;
  {
    using q = other.withCodec({ encode: (n) => Uint8Array.of(n), decode: (b) => b[0]! });
    using j = new JoinableQueue<number>();
    using s = new SimpleQueue<number>();
    q.putNowait(7);
    j.putNowait(1);
    s.putNowait(2);
    scoped = q;
    for (const x of [j, s]) assert.doesNotThrow(() => x.qsize());
  }
  assert.throws(() => scoped!.putNowait(8), ClosedError);
  assert.throws(() => scoped!.getNowait(), ClosedError);
  assert.equal(other.qsize(), 1, 'another handle on the same queue is unaffected, the item stays');
  other.close();
});

test('await using closes too (and joinThread resolves)', async () => {
  let scoped: Queue<string> | undefined;
  {
    await using q = new Queue<string>();
    await q.put('x');
    scoped = q;
  }
  await assert.rejects(scoped!.put('y'), ClosedError);
  await scoped!.joinThread();
});
