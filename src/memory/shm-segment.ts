/**
 * A segment over POSIX shared memory, mapped by the native addon: reaches any mix of threads and processes. Waits
 * through a process-shared futex (also between threads: V8's `Atomics.wait` does not see native futex wakes).
 *
 * Names are `/procq-<creator pid>-<creator start time>-<pid namespace>-<tree token>-<16 random hex digits>` (files
 * under `/dev/shm`, mode 0600):
 * - the start time (hex clock ticks since boot, from `/proc/<pid>/stat`) tells a dead creator from a new process
 *   that got its pid again (pids wrap at 32768 on small machines);
 * - the pid namespace (the inode of `/proc/self/ns/pid`, decimal; 0 when unknown) says which pids the pid means:
 *   a `/dev/shm` shared between containers or pod sidecars holds names whose pids are numbered in other
 *   namespaces, and those are never swept;
 * - the tree token names the resource tracker (tracker.ts) that removes the segment when the tree of processes
 *   that could use it has ended.
 *
 * Memory: a fresh segment is zero-filled and nothing in it is committed but its first page; `commit(offset, length)`
 * backs a range before it is first touched (posix_fallocate), so a ring may reserve a large virtual size (1 GiB)
 * and pay only for what it uses, and a full `/dev/shm` is an `ENOSPC` error instead of a SIGBUS.
 *
 * Lifetime of a name:
 * - it lives as long as its creating process: the addon unlinks every name the process created when the process
 *   exits normally (an atexit handler, so segments created in a worker thread outlive that worker); a process that
 *   attaches a segment keeps its mapping after the name is gone, but nobody can attach it any more;
 * - a creator killed by a signal leaves its names behind until its tree's tracker removes them (when the last
 *   process of the tree has ended); besides, the first segment created in each thread sweeps the names whose
 *   creator is provably dead, and `sweepSegments()` does the same on demand (`procq sweep`).
 *
 * Attaching: each thread maps a segment itself (an external `ArrayBuffer` cannot be shared between threads); a thread
 * attaching the same name twice gets the same segment while the first is still reachable.
 */
import {
  closeSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  unlinkSync,
} from 'node:fs';
import { randomHex } from '../builtins.js';

import { NativeUnavailableError, SharedMemoryFull } from '../errors.js';
import { loadNative, type NativeBinding, nativeLoadError } from '../native/index.js';
import type { AsyncWait, Segment, SegmentHandle, WaitResult } from './segment.js';
import { trackerToken } from './tracker.js';

export type ShmHandle = Extract<SegmentHandle, { kind: 'shm' }>;

const SHM_DIR = '/dev/shm';
const NAME_PREFIX = 'procq-';
/**
 * `procq-<pid>-<start>-<pidns>-<tree>-<random>`, and a queue's overflow blocks `…-<random>-<seq>` (named after their
 * ring, judged by the ring's creator). Older names (without a namespace) are never swept.
 */
const NAME_RE = /^procq-(\d+)-([0-9a-f]+)-(\d+)-([0-9a-f]+)-[0-9a-f]+(?:-[0-9a-f]+)?$/;
/** The object registries of `procq ls`, `procq-reg-<pid>-<start>-<pidns>` (inspect/registry.ts): swept as segments are. */
const REGISTRY_RE = /^procq-reg-(\d+)-([0-9a-f]+)-(\d+)$/;
const PAGE = 4096;
/** Sizes above this are refused (tmpfs and the ArrayBuffer limit are far below anyway). */
const MAX_SIZE = 2 ** 47;

/** Whether segments can cross processes here: the addon loaded and `PROCQ_SEGMENT` is not `sab`. */
export function shmAvailable(): boolean {
  return process.env.PROCQ_SEGMENT !== 'sab' && loadNative() !== null;
}

function requireNative(): NativeBinding {
  const native = loadNative();
  if (native === null) {
    throw new NativeUnavailableError(
      `shared memory between processes needs the native addon: ${nativeLoadError()}`,
    );
  }
  return native;
}

const settled = (result: WaitResult): AsyncWait => ({ promise: Promise.resolve(result), cancel() {} });

/** Async wait ids, unique among this thread's pending waits (the addon keeps one list per thread). */
let nextWaitId = 1;

export class ShmSegment implements Segment {
  readonly kind = 'shm' as const;
  /** The POSIX name, `/procq-<pid>-<hex>`. */
  readonly name: string;
  readonly byteLength: number;
  readonly i32: Int32Array;
  readonly bytes: Buffer;
  readonly #buffer: ArrayBuffer;
  readonly #native: NativeBinding;

  constructor(native: NativeBinding, name: string, buffer: ArrayBuffer) {
    this.#native = native;
    this.#buffer = buffer;
    this.name = name;
    this.byteLength = buffer.byteLength;
    this.i32 = new Int32Array(buffer);
    this.bytes = Buffer.from(buffer);
  }

  wait(index: number, expected: number, timeoutMs: number, parked = -1): WaitResult {
    if (parked < 0) return this.#native.futexWait(this.i32, index, expected, timeoutMs);
    Atomics.add(this.i32, parked, 1);
    try {
      return this.#native.futexWait(this.i32, index, expected, timeoutMs);
    } finally {
      Atomics.sub(this.i32, parked, 1);
    }
  }

  /**
   * Costs a hand-off to a native waiter thread (a few µs when one is idle, a thread start otherwise) unless the word
   * already differs or the timeout is 0. `cancel()` resolves the promise with `'ok'` shortly after; it disturbs no
   * other waiter. A cancelled wait may have consumed a `notify(…, 1)` meant for someone: callers that cancel and
   * use counted notifies should pass the wake-up on (notify again) when their condition holds.
   */
  waitAsync(index: number, expected: number, timeoutMs: number, parked = -1): AsyncWait {
    if (Atomics.load(this.i32, index) !== (expected | 0)) return settled('not-equal');
    if (timeoutMs <= 0) return settled('timed-out');
    const native = this.#native;
    const id = nextWaitId++;
    const promise = native.futexWaitAsync(this.i32, index, expected, timeoutMs, id, parked);
    let cancelled = false;
    return {
      promise,
      cancel() {
        if (cancelled) return;
        cancelled = true;
        native.futexCancel(id);
      },
    };
  }

  notify(index: number, count: number): number {
    return this.#native.futexWake(this.i32, index, count);
  }

  commit(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(
        `Expected \`offset\` and \`length\` to be non-negative integers, got ${offset} and ${length}`,
      );
    }
    const end = offset + length;
    if (end > this.byteLength) {
      throw new RangeError(
        `Expected a range inside the segment (${this.byteLength} bytes), got [${offset}, ${end})`,
      );
    }
    if (length === 0) return;
    // Always asked of the kernel (no cache): pages released by another process must be backed again.
    const start = offset - (offset % PAGE);
    const stop = Math.min(this.byteLength, Math.ceil(end / PAGE) * PAGE);
    this.#native.shmCommit(this.#buffer, start, stop - start);
  }

  release(offset: number, length: number): void {
    const start = Math.ceil(offset / PAGE) * PAGE;
    const stop = Math.min(this.byteLength, Math.floor((offset + length) / PAGE) * PAGE);
    if (stop > start) this.#native.shmRelease(this.#buffer, start, stop - start);
  }

  handle(): ShmHandle {
    return { kind: 'shm', name: this.name, size: this.byteLength };
  }
}

/** This thread's segments by name, for `attachShmSegment` to return the same one twice. */
const attached = new Map<string, WeakRef<ShmSegment>>();
const forget = new FinalizationRegistry<string>((name) => {
  if (attached.get(name)?.deref() === undefined) attached.delete(name);
});

function remember(segment: ShmSegment): ShmSegment {
  attached.set(segment.name, new WeakRef(segment));
  forget.register(segment, segment.name);
  return segment;
}

let swept = false;
let ownStart: string | undefined;
let ownNs: string | undefined;

/**
 * This process's pid namespace (the inode of `/proc/self/ns/pid`), or '0' when it cannot be told. Also '0' when the
 * mounted `/proc` belongs to another namespace (its `self` is not our pid): its pids are not ours to judge.
 */
/**
 * A fresh name in procq's format (without the leading `/`): swept with this process's segments when it is killed,
 * removed by its tree's tracker. `SharedMemory` blocks with default names use it too.
 */
export function newSegmentName(): string {
  ownStart ??= startTime('self') ?? '0';
  return `${NAME_PREFIX}${process.pid}-${ownStart}-${pidNamespace()}-${trackerToken()}-${randomHex(8)}`;
}

export function pidNamespace(): string {
  if (ownNs !== undefined) return ownNs;
  ownNs = '0';
  try {
    const m = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'));
    if (m !== null && readlinkSync('/proc/self') === String(process.pid)) ownNs = m[1]!;
  } catch {
    // no /proc: namespace unknown, nothing is ever swept
  }
  return ownNs;
}

/** The start time of process `pid` (hex clock ticks since boot), or `undefined` when it cannot be read. */
function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const field = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, starttime
    return field === undefined ? undefined : BigInt(field).toString(16);
  } catch {
    return undefined;
  }
}

/** A new zero-filled segment of `size` bytes (a multiple of 4), in POSIX shared memory. */
export function createShmSegment(size: number): ShmSegment {
  if (!Number.isInteger(size) || size <= 0 || size % 4 !== 0 || size > MAX_SIZE) {
    throw new RangeError(`Expected \`size\` to be a positive multiple of 4 up to 2^47, got ${size}`);
  }
  const native = requireNative();
  if (!swept) {
    swept = true;
    sweepSegments();
  }
  for (let attempt = 0; ; attempt++) {
    const name = `/${newSegmentName()}`;
    let buffer: ArrayBuffer;
    try {
      buffer = native.shmCreate(name, size);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 3) continue;
      throw err;
    }
    const segment = new ShmSegment(native, name, buffer);
    try {
      segment.commit(0, Math.min(size, PAGE));
    } catch (err) {
      native.shmUnlink(name);
      throw err;
    }
    return remember(segment);
  }
}

/** `err` as the typed error of a full `/dev/shm` when it is ENOSPC, naming the `size` asked for; else `err`. */
export function noSpaceError(err: unknown, size: number, what: string): unknown {
  if ((err as NodeJS.ErrnoException)?.code !== 'ENOSPC') return err;
  const mib = (size / 2 ** 20).toFixed(1);
  return new SharedMemoryFull(
    `${what} needs ${size} bytes (${mib} MiB) of shared memory and ${SHM_DIR} has no room for them; nothing was ` +
      'put and the queue is unchanged',
    size,
    { cause: err },
  );
}

/**
 * A new zero-filled segment `name` (`/…`) of `size` bytes, all committed (a full `/dev/shm` is SharedMemoryFull,
 * and nothing is left behind), that is NOT unlinked when this process exits: a queue's overflow block, whose life
 * follows the queue's (its consumers unlink it once drained; the tree's tracker removes it otherwise), not its
 * creator's. A name left by a killed creator is replaced.
 */
export function createBlockSegment(name: string, size: number): ShmSegment {
  const native = requireNative();
  const path = `${SHM_DIR}${name}`;
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    unlinkSync(path);
    fd = openSync(path, 'wx', 0o600);
  }
  try {
    ftruncateSync(fd, size);
    const segment = new ShmSegment(native, name, native.shmOpen(name));
    segment.commit(0, size);
    return segment;
  } catch (err) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    throw noSpaceError(err, size, 'a new block of the queue');
  } finally {
    closeSync(fd);
  }
}

/** Maps the existing segment `name` (not cached: overflow blocks are mapped once per reader and dropped). */
export function openBlockSegment(name: string): ShmSegment {
  const native = requireNative();
  return new ShmSegment(native, name, native.shmOpen(name));
}

/** Removes the name `name`; false when it did not exist. */
export function unlinkSegmentName(name: string): boolean {
  return requireNative().shmUnlink(name);
}

/** Maps the segment `handle` names, in this thread (the same segment when this thread already has it). */
export function attachShmSegment(handle: ShmHandle): ShmSegment {
  const cached = attached.get(handle.name)?.deref();
  if (cached !== undefined) return cached;
  const native = requireNative();
  let buffer: ArrayBuffer;
  try {
    buffer = native.shmOpen(handle.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const e = new Error(
        `shared-memory segment ${handle.name} no longer exists: a segment lives as long as the process that ` +
          'created it, and that process has exited',
        { cause: err },
      ) as NodeJS.ErrnoException;
      e.code = 'ENOENT';
      throw e;
    }
    throw err;
  }
  if (buffer.byteLength !== handle.size) {
    throw new Error(
      `shared-memory segment ${handle.name} has ${buffer.byteLength} bytes, but its handle says ${handle.size}`,
    );
  }
  return remember(new ShmSegment(native, handle.name, buffer));
}

/**
 * Unlinks the segments left in `/dev/shm` by dead processes (killed before they could clean up): names whose
 * creator is provably dead, or only those of `pid` (a child known to be dead, e.g. after a `terminate()`). Returns
 * the names removed. Mappings that processes still hold stay valid; the names are gone.
 *
 * Provably dead: the name was created in this process's pid namespace (a `/dev/shm` shared with other containers
 * holds names whose pids mean other processes), that namespace is known, and no live process has the creator's
 * pid with the creator's start time. Names of older procq versions (no namespace) are left alone.
 */
export function sweepSegments(options: { pid?: number } = {}): string[] {
  const native = loadNative();
  if (native === null) return [];
  let entries: string[];
  try {
    entries = readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const alive = new Map<string, boolean>();
  for (const entry of entries) {
    const segment = NAME_RE.exec(entry);
    const m = segment ?? REGISTRY_RE.exec(entry);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || (options.pid !== undefined && pid !== options.pid)) continue;
    // another namespace's pid (or unknown): its death is not provable from here
    if (m[3] === '0' || m[3] !== pidNamespace()) continue;
    const key = `${pid}-${m[2]}`;
    let isAlive = alive.get(key);
    if (isAlive === undefined) {
      // Alive only if it is the same process: a creator that died may have had its pid taken by another one.
      isAlive = native.threadAlive(pid) && (m[2] === '0' || startTime(pid) === m[2]);
      alive.set(key, isAlive);
    }
    if (isAlive) continue;
    try {
      if (native.shmUnlink(`/${entry}`)) removed.push(`/${entry}`);
    } catch {
      // EACCES (another user's segment): not ours to remove
    }
  }
  return removed;
}
