/**
 * Who holds a lock in shared memory, and whether they still live: the ring's dead-owner recovery asks this.
 *
 * With the native addon an owner is the kernel thread id (`gettid()`): unique among live threads of every process
 * sharing a segment, and checkable from any of them (`/proc/<tid>/stat`; a zombie counts as dead). Without it,
 * `threadId + 1`, unique only within one process, and liveness cannot be told.
 */
import { threadId } from 'node:worker_threads';

import { loadNative } from '../native/index.js';

let cachedId = 0;

/** A non-zero id for the calling thread, unique among live threads that share a segment. Cached per thread. */
export function ownerId(): number {
  if (cachedId === 0) cachedId = loadNative()?.gettid() ?? threadId + 1;
  return cachedId;
}

/**
 * Whether the owner `id` (from `ownerId()` in any thread or process) is still alive; `undefined` when it cannot be
 * told (no native addon). Thread ids are recycled by the kernel, so `true` may rarely be a stranger: recovery then
 * waits longer, it never steals a live owner's lock.
 */
export function ownerAlive(id: number): boolean | undefined {
  const native = loadNative();
  if (native === null) return undefined;
  return Number.isInteger(id) && id > 0 && id <= 0x7fffffff ? native.threadAlive(id) : false;
}
