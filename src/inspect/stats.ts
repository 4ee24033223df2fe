/**
 * `stats()` of every procq object: the decoders of read.ts over the object's live memory (`Atomics.load`), with
 * owners resolved through `/proc` (pid of a thread, alive, stopped).
 */

import type { Segment } from '../memory/segment.js';
import { loadNative } from '../native/index.js';
import { threadInfo } from './proc.js';
import {
  type BarrierStats,
  type ConditionStats,
  type DataStats,
  type EventStats,
  type LockStats,
  type OwnerInfo,
  type PipeStats,
  type QueueStats,
  readBarrier,
  readCondition,
  readData,
  readEvent,
  readLock,
  readPipe,
  readQueue,
  readSemaphore,
  type SemaphoreStats,
  type Words,
} from './read.js';

/** Where an object lives in this thread (a primitive's `Place`). */
export interface LivePlace {
  readonly seg: Segment;
  readonly base: number;
  readonly label?: string;
}

export function liveWords(seg: Segment, base: number): Words {
  const i32 = seg.i32;
  return (i) => Atomics.load(i32, base + i);
}

/**
 * Owner ids are kernel thread ids when the native addon is loaded (then `/proc` knows them), else
 * `threadId + 1` inside this process, whose liveness cannot be told.
 */
export function resolveLocal(id: number): OwnerInfo {
  if (loadNative() === null) return { pid: process.pid, tid: id, alive: null, stopped: false };
  return threadInfo(id);
}

export function queueStats(seg: Segment, kind: QueueStats['kind'], label: string | undefined): QueueStats {
  const r = readQueue(liveWords(seg, 0), kind, label, resolveLocal);
  if (r === null) throw new Error('procq: this queue has no ring in its memory');
  return r.stats;
}

export function lockStats(place: LivePlace, kind: LockStats['kind']): LockStats {
  return readLock(liveWords(place.seg, place.base), kind, place.label, resolveLocal);
}

export function semaphoreStats(place: LivePlace, kind: SemaphoreStats['kind']): SemaphoreStats {
  return readSemaphore(liveWords(place.seg, place.base), kind, place.label);
}

export function eventStats(place: LivePlace): EventStats {
  return readEvent(liveWords(place.seg, place.base), place.label);
}

export function conditionStats(place: LivePlace): ConditionStats {
  return readCondition(liveWords(place.seg, place.base), place.label, resolveLocal);
}

export function barrierStats(place: LivePlace): BarrierStats {
  return readBarrier(liveWords(place.seg, place.base), place.label, resolveLocal);
}

export function dataStats(place: LivePlace, kind: DataStats['kind']): DataStats {
  return readData(liveWords(place.seg, place.base), kind, place.label, resolveLocal);
}

export function pipeStats(
  control: Segment,
  rings: readonly (Segment | null)[],
  label: string | undefined,
): PipeStats {
  return readPipe(
    liveWords(control, 0),
    rings.map((r) => (r === null ? null : liveWords(r, 0))),
    label,
  );
}
