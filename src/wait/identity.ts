/**
 * Who holds a lock or waits on a word, in a form the kernel never hands to another thread.
 *
 * The kernel recycles thread ids (pid_max is 32768 on small machines, and every thread takes one), never the pair
 * (thread id, start time): a thread that got the id of a dead owner started after it. So an owner is named by:
 * - `ownerId()`: the kernel thread id (`threadId + 1` without the native addon, unique only in one process, whose
 *   liveness cannot be told); what advertisements and slots record;
 * - `ownerStart()`: that thread's start time (clock ticks since boot, `/proc/<tid>/stat` field 22) folded into
 *   1 .. 2^31 - 1; 0 means "not known";
 * - `ownerWord()`: what a lock word holds, both in one 32-bit word, so that the compare-and-swap that takes a lock
 *   records an identity at once:
 *
 * ```
 *   bit  31 ........ 22 21 .................. 0
 *        TAG (10 bits)  TID (22 bits: pid_max is at most 2^22)
 *   TAG: the start time folded into 1 .. 1023 (0: not known)
 * ```
 * A lock keeps the whole START in a word of its own as well (owner-word.ts): the TAG alone tells a recycled id
 * from its dead owner 1023 times in 1024, START always; TAG covers the instants between taking the lock and
 * writing START.
 */
import { ownerId } from '../memory/owner.js';
import { loadNative } from '../native/index.js';

export { ownerId };

const TID_BITS = 22;
const TID_MASK = (1 << TID_BITS) - 1;

let cachedStart = -1;
let cachedWord = 0;

/** Folds a start time in clock ticks into a non-zero positive 32-bit word. */
function foldStart(ticks: number): number {
  return (ticks % 0x7fffffff) + 1;
}

function tagOf(ticks: number): number {
  return (ticks % 1023) + 1;
}

function startTicks(): number {
  const native = loadNative();
  return native === null ? -1 : native.threadStartTime(ownerId());
}

/** The START word of the calling thread (0 when it cannot be told). Cached per thread. */
export function ownerStart(): number {
  if (cachedStart < 0) {
    const ticks = startTicks();
    cachedStart = ticks < 0 ? 0 : foldStart(ticks);
  }
  return cachedStart;
}

/** The lock word of the calling thread: its thread id and start-time TAG. Cached per thread. */
export function ownerWord(): number {
  if (cachedWord === 0) {
    const ticks = startTicks();
    cachedWord = (ownerId() & TID_MASK) | ((ticks < 0 ? 0 : tagOf(ticks)) << TID_BITS) | 0;
  }
  return cachedWord;
}

/** The thread id in a lock word (0: free). */
export function tidOf(word: number): number {
  return word & TID_MASK;
}

/**
 * Whether the owner of lock word `word` (and START `start`, 0 when not known) still runs: `false` when its thread
 * is gone, a zombie, or a different thread that got the id since (its start time differs); `undefined` when it
 * cannot be told (no native addon).
 */
export function ownerLives(word: number, start: number): boolean | undefined {
  const native = loadNative();
  if (native === null) return undefined;
  const tid = tidOf(word);
  if (tid === 0) return false;
  const ticks = native.threadStartTime(tid);
  if (ticks < 0) return false;
  if (start !== 0) return foldStart(ticks) === start;
  const tag = word >>> TID_BITS;
  return tag === 0 || tagOf(ticks) === tag;
}
