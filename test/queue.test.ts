// The Queue contract over shared memory (the default segment): in one thread, across in-process, worker-thread and
// spawned-process peers, mixed peers on one queue, and the seed's programs. The suite itself: test/helpers/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shmAvailable } from '../src/memory/shm-segment.js';
import { withPeers } from './helpers/peers.js';
import { installQueueSuite } from './helpers/queue-suite.js';
import { mpmc } from './helpers/queue-suite-peers.js';
import { PROCESS_METHOD, scaled } from './helpers/util.js';

test('the default segment is shared memory (the native addon is built)', () => {
  assert.equal(shmAvailable(), true, 'build the addon (npm run build:native): this file tests processes');
});

installQueueSuite('shm');

describe('mixed peers on one queue (segment: shm)', () => {
  test(
    'threads, processes and this thread produce and consume together: every item once, per-producer FIFO',
    { timeout: 90_000 },
    () =>
      withPeers('thread', (peers) =>
        mpmc(peers, {
          maxsize: 64,
          n: scaled(1500),
          producers: ['thread', PROCESS_METHOD, 'inproc'],
          consumers: [PROCESS_METHOD, 'thread', 'inproc'],
        }),
      ),
  );

  test('the same over a one-frame ring with batches', { timeout: 90_000 }, () =>
    withPeers(PROCESS_METHOD, (peers) =>
      mpmc(peers, {
        maxsize: 1,
        capacityBytes: 64,
        batch: 4,
        n: scaled(300),
        producers: [PROCESS_METHOD, 'thread'],
        consumers: ['thread', PROCESS_METHOD],
      }),
    ),
  );
});
