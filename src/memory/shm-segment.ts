// STUB: replaced by the native work (issue 3). Keeps thread mode building meanwhile.
import { NativeUnavailableError } from '../errors.js';
import type { Segment, SegmentHandle } from './segment.js';

export function shmAvailable(): boolean {
  return false;
}
export function createShmSegment(_size: number): Segment {
  throw new NativeUnavailableError('shared memory between processes needs the native addon');
}
export function attachShmSegment(_handle: Extract<SegmentHandle, { kind: 'shm' }>): Segment {
  throw new NativeUnavailableError('shared memory between processes needs the native addon');
}
