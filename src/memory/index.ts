/**
 * Where shared memory comes from. `createSegment` picks POSIX shared memory (reaches processes) when the native
 * addon is built, else a `SharedArrayBuffer` (reaches threads only); `PROCQ_SEGMENT=sab` forces the latter.
 */
import { SabSegment } from './sab-segment.js';
import type { Segment, SegmentHandle } from './segment.js';
import { attachShmSegment, createShmSegment, shmAvailable } from './shm-segment.js';

export { ownerAlive, ownerId } from './owner.js';
export type { AsyncWait, Segment, SegmentHandle, WaitResult } from './segment.js';

export type SegmentKind = 'sab' | 'shm';

export function defaultSegmentKind(): SegmentKind {
  if (process.env.PROCQ_SEGMENT === 'sab') return 'sab';
  return shmAvailable() ? 'shm' : 'sab';
}

/** A new zero-filled segment of `size` bytes. */
export function createSegment(size: number, kind: SegmentKind = defaultSegmentKind()): Segment {
  return kind === 'shm' ? createShmSegment(size) : SabSegment.create(size);
}

/** Maps the segment `handle` describes, in this thread. */
export function attachSegment(handle: SegmentHandle): Segment {
  return handle.kind === 'shm' ? attachShmSegment(handle) : new SabSegment(handle.sab);
}
export {
  createBlockSegment,
  noSpaceError,
  openBlockSegment,
  type ShmSegment,
  unlinkSegmentName,
} from './shm-segment.js';
