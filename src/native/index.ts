/**
 * Loads the native addon, built from `src/native/procq.c`. Without it procq still works between worker threads
 * (`SharedArrayBuffer` segments); only OS processes need it.
 *
 * Where it comes from, in node-gyp-build's order (the first `.node` file found wins):
 * 1. `build/Release/` (or `build/Debug/`): a build from source: `npm run build:native` in a checkout, or the
 *    package's `install` script (`scripts/install-native.mjs`) when no prebuilt binary loads on this machine;
 * 2. `prebuilds/<platform>-<arch>/procq.<libc>.node`: the binary shipped inside the package (made by
 *    `prebuildify --napi` when the package is packed), so `npm install --ignore-scripts` and machines without a
 *    compiler get real processes.
 *
 * The addon is plain Node-API (no V8 API, so one binary serves every Node version), Linux only. `loadNative()`
 * returns `null` instead of throwing when it is missing, stale or broken; `nativeLoadError()` then says why and
 * what to run. `PROCQ_NATIVE=off` disables it (to exercise the fallback).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

import type { WaitResult } from '../memory/segment.js';

/** Bumped with `PQ_ABI_VERSION` in procq.c whenever the surface below changes: a stale build is refused. */
export const NATIVE_ABI_VERSION = 7;

export interface NativeStats {
  /** Native waiter threads alive in this process (busy or idle). */
  readonly waiterThreads: number;
  /** Of those, the idle ones (kept for reuse for 10 s). */
  readonly idleWaiterThreads: number;
  /** Async waits of this thread that have not settled yet. */
  readonly pendingWaits: number;
  /** Async waits this thread has started. */
  readonly waitsStarted: number;
  /** Whether the kernel has futex_waitv (Linux >= 5.16): cancellation is then exact and disturbs nobody. */
  readonly futexWaitv: boolean;
}

/**
 * The addon's functions. Misuse throws `TypeError` / `RangeError`; a failed system call throws an `Error` whose
 * `code` is the errno name (`ENOENT`, `EEXIST`, `ENOSPC`, …).
 */
export interface NativeBinding {
  readonly abiVersion: number;

  /**
   * Creates POSIX shared memory `name` (`/…`, no other `/`) of `size` bytes (`O_CREAT | O_EXCL`, mode 0600) and maps
   * it. Zero-filled, nothing committed. The name is unlinked when this process exits normally (atexit), whichever
   * thread created it. The mapping is released when the returned buffer is collected.
   */
  shmCreate(name: string, size: number): ArrayBuffer;
  /** Maps existing shared memory `name`, whole. */
  shmOpen(name: string): ArrayBuffer;
  /** Removes the name (mappings stay valid). `false` when it did not exist. */
  shmUnlink(name: string): boolean;
  /**
   * Backs bytes `[offset, offset + length)` of a buffer from `shmCreate`/`shmOpen` with memory (`posix_fallocate`),
   * so that a full `/dev/shm` is an `ENOSPC` error here instead of a SIGBUS when the bytes are touched.
   */
  shmCommit(buffer: ArrayBuffer, offset: number, length: number): void;
  /**
   * Gives the pages of `[offset, offset + length)` back to `/dev/shm` (`fallocate` PUNCH_HOLE): they read as zeros
   * after. `false` when the file system cannot punch holes.
   */
  shmRelease(buffer: ArrayBuffer, offset: number, length: number): boolean;

  /**
   * Blocks the calling thread while `i32[index] === expected` (process-shared `FUTEX_WAIT`), at most `timeoutMs`
   * (`Infinity` or `NaN`: no limit). Signals are absorbed (the deadline holds). Spurious wake-ups are possible.
   * Waits longer than 50 ms re-enter the kernel every 50 ms to notice `worker.terminate()` (which cannot interrupt
   * a system call); a terminated worker's wait returns `undefined` while V8 unwinds it.
   */
  futexWait(i32: Int32Array, index: number, expected: number, timeoutMs: number): WaitResult;
  /** Wakes up to `count` (`Infinity`: all) waiters on `i32[index]` in any thread or process; returns how many. */
  futexWake(i32: Int32Array, index: number, count: number): number;
  /**
   * `futexWait` on a dedicated native thread. The promise keeps the event loop alive while pending. `id` is chosen
   * by the caller, unique among this thread's pending waits, for `futexCancel`.
   */
  futexWaitAsync(
    i32: Int32Array,
    index: number,
    expected: number,
    timeoutMs: number,
    id: number,
    /** The index of a word of `i32` that counts sleepers: raised by one while this wait is in progress. */
    parked?: number,
  ): Promise<WaitResult>;
  /** Ends the pending async wait `id` early: it resolves `'ok'` shortly. `false` when no such wait is pending. */
  futexCancel(id: number): boolean;
  stats(): NativeStats;

  /** The kernel thread id of the calling thread (the pid, in a process's main thread). */
  gettid(): number;
  getppid(): number;
  /** Whether thread or process `tid` exists and is not a zombie (an unreaped dead child counts as dead). */
  threadAlive(tid: number): boolean;
  /**
   * `prctl(PR_SET_PDEATHSIG, signo)`: the kernel sends `signo` to this process when its parent *thread* exits (the
   * thread that spawned it, which may be a worker thread of the parent). 0 clears it.
   */
  setParentDeathSignal(signo: number): void;
  /**
   * The start time of thread `tid` (clock ticks since boot, `/proc/<tid>/stat` field 22), or -1 when it does not
   * exist or is a zombie: with the tid, an identity the kernel never gives to another thread (src/wait/identity.ts).
   */
  threadStartTime(tid: number): number;
  /** `_exit(code)`: ends the process now, without Node's exit sequence (which can hang; see child.ts). */
  exitNow(code: number): never;
  /**
   * glibc's `mallopt`: blocks up to `mmapMax` bytes come from the heap (`M_MMAP_THRESHOLD`), freed heap memory goes
   * back to the kernel only past `trimAt` bytes free at its top (`M_TRIM_THRESHOLD`), keeping `keep` (`M_TOP_PAD`).
   * Process-wide. `false` when the C library is not glibc or refused a value (src/memory/allocator.ts).
   */
  keepLargeAllocationsWarm(mmapMax: number, trimAt: number, keep: number): boolean;
  /** madvise(MADV_HUGEPAGE) on the heap grown since the last call; the bytes newly advised (0: none). */
  adviseHugeHeap(): number;

  /** A pipe for the resource tracker (src/memory/tracker.ts): `[readFd, writeFd]`, both close-on-exec. */
  trackerPipe(): [number, number];
  /** Clears (`true`) or sets (`false`) close-on-exec on `fd`: an inheritable fd is held by every process exec'd. */
  setInheritable(fd: number, inheritable: boolean): void;
}

const REBUILD_HINT =
  'Thread mode (startMethod: "thread") still works. For OS processes, build the addon from source: ' +
  '`npm rebuild procq` in your project (or `npm run build:native` in a checkout of procq); ' +
  'this needs a C compiler, make and python3 (Debian/Ubuntu: `apt-get install -y g++ make python3`).';

let loaded: NativeBinding | null | undefined;
let loadError: string | undefined;

/** The package root: the nearest ancestor directory whose package.json is named `procq`. */
export function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'procq') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The addon, or `null` when it is unavailable (see `nativeLoadError()`). Cached per thread. On Linux, a missing,
 * stale or broken addon is also reported once per process (main thread) as a warning (`PROCQ_NATIVE_MISSING`)
 * saying what to run, since the error it later causes (a queue that cannot cross processes) cannot.
 */
export function loadNative(): NativeBinding | null {
  if (loaded !== undefined) return loaded;
  loaded = tryLoad();
  if (loaded === null && process.platform === 'linux' && process.env.PROCQ_NATIVE !== 'off' && isMainThread) {
    // Emitted now, not on the next tick as `process.emitWarning` does: the error this causes is often thrown
    // synchronously at a program's top level, which would end the process before the warning is printed.
    const warning = Object.assign(new Error(`procq: ${loadError}`), {
      name: 'Warning',
      code: 'PROCQ_NATIVE_MISSING',
    });
    process.emit('warning', warning);
  }
  return loaded;
}

function tryLoad(): NativeBinding | null {
  if (process.env.PROCQ_NATIVE === 'off') {
    loadError = `the native addon is disabled by PROCQ_NATIVE=off. ${REBUILD_HINT}`;
    return null;
  }
  if (process.platform !== 'linux') {
    loadError =
      `the native addon supports Linux only (this is ${process.platform}): OS processes cannot share procq ` +
      'queues here; thread mode (startMethod: "thread") works.';
    return null;
  }
  const root = packageRoot();
  if (root === undefined) {
    loadError = `cannot find the procq package root above ${fileURLToPath(import.meta.url)}. ${REBUILD_HINT}`;
    return null;
  }
  const require = createRequire(import.meta.url);
  let file: string;
  try {
    // build/Release, build/Debug, then prebuilds/<platform>-<arch>/ (matching libc), as documented at the top.
    const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
    file = nodeGypBuild.path(root);
  } catch (err) {
    const why = (err as Error).message.trim().replace(/\s*\n\s*/g, '; ');
    loadError = `the native addon is missing: no prebuilt binary fits and none was built from source (${why}). ${REBUILD_HINT}`;
    return null;
  }
  try {
    const binding = require(file) as NativeBinding;
    if (binding.abiVersion !== NATIVE_ABI_VERSION) {
      loadError =
        `the native addon at ${file} is stale (ABI ${String(binding.abiVersion)}, expected ` +
        `${NATIVE_ABI_VERSION}). ${REBUILD_HINT}`;
      return null;
    }
    return binding;
  } catch (err) {
    loadError = `the native addon at ${file} failed to load: ${(err as Error).message}. ${REBUILD_HINT}`;
    return null;
  }
}

/** Why `loadNative()` returned `null` (with how to rebuild), or `undefined` when it loaded or was not tried. */
export function nativeLoadError(): string | undefined {
  return loadError;
}
