// The Queue contract suite, written once and installed per transport (CPython's _test_multiprocessing.py style):
// in one thread, across in-process, worker-thread and spawned-process peers, and as whole programs.
// test/queue.test.ts installs it over shared memory (every peer kind); test/queue-sab.test.ts over
// SharedArrayBuffer segments (PROCQ_SEGMENT=sab: threads only); test/queue-redis.test.ts over Redis. What a
// transport changes is a capability of its factory (queue-factory.ts).
import assert from 'node:assert/strict';
import { after, afterEach } from 'node:test';
import { type PeerKind, spawnedPids } from './peers.js';
import { type QueueFactory, shmFactory } from './queue-factory.js';
import { installLocalSuite, type SegmentKind } from './queue-suite-local.js';
import { installPeerSuite } from './queue-suite-peers.js';
import { installScriptSuite } from './queue-suite-scripts.js';
import { serverPids } from './redis-server.js';
import { noChildrenLeft, runningChildPids, segmentsOf } from './util.js';

/** The whole suite over shared memory (`segment`), or over the transport of `factory` (Redis). */
/** `parts` splits the suite across files (a network transport runs it slower than one file's time limit). */
export function installQueueSuite(
  segment: SegmentKind | QueueFactory,
  parts: { local?: boolean; peers?: PeerKind[] } = {},
): void {
  const mk = typeof segment === 'string' ? shmFactory(segment) : segment;
  const methods: Array<'thread' | 'spawn' | 'forkserver'> = [...mk.caps.startMethods];
  const kinds: PeerKind[] = parts.peers ?? ['inproc', ...methods];
  afterEach(noChildrenLeft);
  afterEach(() => mk.cleanup());
  after(() => {
    const children = runningChildPids().filter((pid) => !serverPids.has(pid));
    assert.deepEqual(children, [], 'child processes still running at the end of the file');
    const left = [...spawnedPids].flatMap(segmentsOf);
    assert.deepEqual(left, [], 'segments left in /dev/shm by spawned peers that have exited');
  });
  // The whole programs are shared-memory ones; first: before this process holds many queues (see queue-many.ts).
  if (mk.segment !== undefined) installScriptSuite(mk.segment, methods);
  if (parts.local !== false) installLocalSuite(mk);
  for (const kind of kinds) installPeerSuite(mk, kind);
}
