/**
 * Warm memory for large items. Every item a consumer takes becomes a new `Buffer` of its own (never a view into
 * ring memory that is reused), and Node asks `malloc` for it. With glibc's defaults a block of 128 KiB or more is a
 * fresh `mmap` unmapped again at its `free`, and smaller freed blocks are handed back to the kernel as soon as
 * 128 KiB lie free at the top of the heap; so each large item is copied into pages the process has never touched,
 * and pays a page fault per 4 KiB (on a virtual machine, a fault of the host too: measured 3.7 ms to take a 1 MiB
 * item whose copy alone takes 0.1 ms). The same holds for the `Buffer` a producer fills before each `put`.
 *
 * So the first time a process puts or takes an item of `LARGE_ITEM` bytes or more, procq asks glibc to serve blocks
 * up to 32 MiB from its heap and to keep up to 64 MiB of freed memory (16 MiB after a trim) instead of returning it
 * at once: the next item's `Buffer` reuses pages the last one used. Process-wide, once, and only in processes that
 * move large items; `PROCQ_KEEP_HEAP=0`, or any of glibc's own `MALLOC_*_` / `GLIBC_TUNABLES` malloc settings,
 * leaves glibc as configured. No effect without the native addon or on other C libraries.
 */
import { loadNative } from '../native/index.js';

/** Payloads of at least this many bytes make the process keep its large allocations warm. */
export const LARGE_ITEM = 64 << 10;

/** glibc's largest allowed M_MMAP_THRESHOLD on 64-bit (HEAP_MAX_SIZE / 2). */
const MMAP_MAX = 32 << 20;
const TRIM_AT = 64 << 20;
const KEEP = 16 << 20;

let done = false;

/** Called with a payload's size on the put and take paths; acts once, for the first large one. */
export function sawLargeItem(): void {
  if (done) return;
  done = true;
  if (!wanted(process.env)) return;
  try {
    loadNative()?.keepLargeAllocationsWarm?.(MMAP_MAX, TRIM_AT, KEEP);
  } catch {
    // an allocator tuning is never worth failing a put or a get for
  }
}

/** Whether procq may tune malloc: not asked not to, and the user has not tuned it already. */
export function wanted(env: NodeJS.ProcessEnv): boolean {
  if (env.PROCQ_KEEP_HEAP === '0') return false;
  if (env.GLIBC_TUNABLES?.includes('glibc.malloc.') === true) return false;
  return (
    env.MALLOC_MMAP_THRESHOLD_ === undefined &&
    env.MALLOC_TRIM_THRESHOLD_ === undefined &&
    env.MALLOC_TOP_PAD_ === undefined
  );
}
