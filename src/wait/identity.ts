/**
 * Who holds a lock or waits on a word, in a form the kernel never hands to another thread.
 *
 * An owner is a pair of 32-bit words:
 * - ID: `ownerId()`, the kernel thread id with the native addon (`threadId + 1` without it, unique only in one
 *   process, whose liveness cannot be told);
 * - START: `ownerStart()`, that thread's start time (clock ticks since boot, `/proc/<tid>/stat` field 22) folded
 *   into 1 .. 2^31 - 1; 0 means "not known" (no native addon, or an owner word caught half written).
 *
 * The kernel recycles thread ids (pid_max is 32768 on small machines, and every thread takes one), never the pair:
 * a thread that got the id of a dead owner started after it. So `ownerLives(id, start)` answers `false` for a dead
 * owner whose id now names an unrelated thread, where a bare id would keep its lock taken for as long as that
 * stranger lives.
 */
import { ownerId } from '../memory/owner.js';
import { loadNative } from '../native/index.js';

export { ownerId };

let cachedStart = -1;

/** Folds a start time in clock ticks into a non-zero positive 32-bit word. */
function foldStart(ticks: number): number {
  return (ticks % 0x7fffffff) + 1;
}

/** The START word of the calling thread (0 when it cannot be told). Cached per thread. */
export function ownerStart(): number {
  if (cachedStart < 0) {
    const native = loadNative();
    const ticks = native === null ? -1 : native.threadStartTime(ownerId());
    cachedStart = ticks < 0 ? 0 : foldStart(ticks);
  }
  return cachedStart;
}

/**
 * Whether the owner (`id`, `start`) still runs: `false` when thread `id` is gone, a zombie, or a different thread
 * that got the id since (its start time differs); `undefined` when it cannot be told (no native addon). With
 * `start` 0 (unknown) only the id is checked.
 */
export function ownerLives(id: number, start: number): boolean | undefined {
  const native = loadNative();
  if (native === null) return undefined;
  if (!Number.isInteger(id) || id <= 0 || id > 0x7fffffff) return false;
  const ticks = native.threadStartTime(id);
  if (ticks < 0) return false;
  return start === 0 || foldStart(ticks) === start;
}
