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
import { readFileSync } from 'node:fs';

import { loadNative } from '../native/index.js';

/** Payloads of at least this many bytes make the process keep its large allocations warm. */
export const LARGE_ITEM = 64 << 10;

/** glibc's largest allowed M_MMAP_THRESHOLD on 64-bit (HEAP_MAX_SIZE / 2). */
const MMAP_MAX = 32 << 20;
const TRIM_AT = 64 << 20;
const KEEP = 16 << 20;

let done = false;
/** The native call that advises the heap's growth, once the heap is tuned (null: not tuned, or not advised). */
let advise: (() => number) | null = null;

/**
 * Called on the put and take paths for each payload of LARGE_ITEM bytes or more (a take: after allocating its
 * Buffer, before copying into it). The first tunes the heap; each asks for huge pages on what the heap grew by.
 */
export function sawLargeItem(): void {
  if (done) {
    if (advise !== null) adviseHeap();
    return;
  }
  done = true;
  if (!wanted(process.env)) return;
  try {
    const native = loadNative();
    if (native?.keepLargeAllocationsWarm?.(MMAP_MAX, TRIM_AT, KEEP) === true && hugePagesAdvisable())
      advise = native.adviseHugeHeap ?? null;
  } catch {
    // an allocator tuning is never worth failing a put or a get for
  }
  if (advise !== null) adviseHeap();
}

/** After allocating a large item's Buffer, before writing it: advises what the allocation grew the heap by. */
export function largeAllocated(): void {
  if (advise !== null) adviseHeap();
}

function adviseHeap(): void {
  try {
    advise?.();
  } catch {
    advise = null; // advice only
  }
}

/**
 * Whether the kernel gives huge pages to memory that asks for them (transparent_hugepage `always` or `madvise`):
 * then the heap that large items' Buffers come from is faulted in 2 MiB at a time (native `adviseHugeHeap`), and
 * a new MiB of heap costs one fault instead of 256 (measured on this VM: 100 MiB of fresh heap 560-700 ms in 4 KiB
 * pages, 320-410 ms in huge pages; a 1 MiB take's page faults 10.9 -> 1.2 averaged over a 1,000-item stream).
 * `PROCQ_HUGE_HEAP=0` leaves pages at 4 KiB.
 */
function hugePagesAdvisable(): boolean {
  if (process.env.PROCQ_HUGE_HEAP === '0') return false;
  try {
    const mode = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
    return mode.includes('[always]') || mode.includes('[madvise]');
  } catch {
    return false;
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
