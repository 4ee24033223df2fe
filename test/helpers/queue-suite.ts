// The Queue contract suite, written once and installed per transport (CPython's _test_multiprocessing.py style):
// in one thread, across in-process, worker-thread and spawned-process peers, and as whole programs.
// test/queue.test.ts installs it over shared memory (every peer kind); test/queue-sab.test.ts over
// SharedArrayBuffer segments (PROCQ_SEGMENT=sab: threads only).
import assert from 'node:assert/strict';
import { after, afterEach } from 'node:test';
import { type PeerKind, spawnedPids } from './peers.js';
import { installLocalSuite, type SegmentKind } from './queue-suite-local.js';
import { installPeerSuite } from './queue-suite-peers.js';
import { installScriptSuite } from './queue-suite-scripts.js';
import { noChildrenLeft, runningChildPids, segmentsOf } from './util.js';

export function installQueueSuite(segment: SegmentKind): void {
  const methods: Array<'thread' | 'spawn'> = segment === 'shm' ? ['thread', 'spawn'] : ['thread'];
  const kinds: PeerKind[] = ['inproc', ...methods];
  afterEach(noChildrenLeft);
  after(() => {
    assert.deepEqual(runningChildPids(), [], 'child processes still running at the end of the file');
    const left = [...spawnedPids].flatMap(segmentsOf);
    assert.deepEqual(left, [], 'segments left in /dev/shm by spawned peers that have exited');
  });
  installScriptSuite(segment, methods); // first: before this process holds many queues (see queue-many.ts)
  installLocalSuite(segment);
  for (const kind of kinds) installPeerSuite(segment, kind);
}
