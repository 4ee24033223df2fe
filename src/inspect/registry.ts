/**
 * The registry: each procq process lists, in one small shared-memory file of its own, the objects it created or
 * attached, so that `procq ls` can find every procq object on the machine without any change to the objects'
 * own memory and without talking to the processes.
 *
 * File: `/dev/shm/procq-reg-<pid>-<start time>-<pid namespace>` (mode 0600; the start time as in segment names, so a reused pid
 * is told apart). Created through the native addon like a segment, so it is unlinked when the process exits
 * normally, and swept with the segments (`procq sweep`) when the process was killed.
 *
 * ```
 *  bytes        written by                       invariant
 *  0   MAGIC    creator                          REGISTRY_MAGIC ('preg'), stored last at creation
 *  4   CURSOR   any thread of the process        bytes of records reserved after RECORDS: Atomics.add(len)
 *               (reserve a record)               reserves [RECORDS + old, RECORDS + old + len); never shrinks
 *  8..64        reserved (0)
 *  64 ...       records                          one JSON object per line (`RegistryRecord`), written after
 *                                                its bytes are reserved; a reader skips a line that does not
 *                                                parse yet (a record being written reads as NUL bytes)
 * ```
 * The file is 4 MiB of address space, committed page by page as records fill it; when it is full, later objects
 * are not listed (they work as ever).
 *
 * Only objects in POSIX shared memory are registered: a `SharedArrayBuffer` (no native addon, or
 * `PROCQ_SEGMENT=sab`) cannot be read from another process anyway; `stats()` still works on those.
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

import { onObjectArrival } from '../codec/handles.js';
import type { Segment, SegmentHandle } from '../memory/segment.js';
import { pidNamespace, type ShmHandle, ShmSegment } from '../memory/shm-segment.js';
import { loadNative } from '../native/index.js';
import { startTimeOf } from './proc.js';

export const REGISTRY_MAGIC = 0x70726567; // 'preg'
const CURSOR = 1;
const RECORDS = 64;
const SIZE = 4 << 20;
const SHM_DIR = '/dev/shm';
export const REGISTRY_RE = /^procq-reg-(\d+)-([0-9a-f]+)-(\d+)$/;

/** What a registry line says: one object created or attached by one thread. */
export interface RegistryRecord {
  /** `create`: this thread made the object; `attach`: it received a handle to it. */
  readonly op: 'create' | 'attach';
  /** The class: `Queue`, `JoinableQueue`, `SimpleQueue`, `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`,
   * `Event`, `Condition`, `Barrier`, `Value`, `SharedArray`, `Pipe`. */
  readonly kind: string;
  readonly label?: string;
  /** The segment's POSIX name (`/procq-…`). */
  readonly seg: string;
  /** Word index of the object's first word in the segment. */
  readonly base: number;
  /** Other segments the object is made of (a Pipe's rings: `[ring read by end 0, ring read by end 1 | null]`). */
  readonly parts?: readonly (string | null)[];
  readonly pid: number;
  /** Kernel thread id of the registering thread. */
  readonly tid: number;
  /** When (ms since the epoch). */
  readonly at: number;
}

interface Open {
  readonly seg: ShmSegment;
  readonly i32: Int32Array;
}

/** This thread's mapping of this process's registry: undefined before the first record, null when unavailable. */
let open: Open | null | undefined;

function registryName(): string | undefined {
  const start = startTimeOf('self');
  return start === undefined ? undefined : `/procq-reg-${process.pid}-${start}-${pidNamespace()}`;
}

function openRegistry(): Open | null {
  const native = loadNative();
  const name = registryName();
  if (native === null || name === undefined) return null;
  try {
    let buffer: ArrayBuffer;
    let created = false;
    try {
      buffer = native.shmCreate(name, SIZE);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      buffer = native.shmOpen(name); // another thread of this process made it
    }
    const seg = new ShmSegment(native, name, buffer);
    seg.commit(0, 4096);
    if (created) Atomics.store(seg.i32, 0, REGISTRY_MAGIC);
    return { seg, i32: seg.i32 };
  } catch {
    return null; // a full /dev/shm, no permission: objects work, they are just not listed
  }
}

let tid = 0;

/** The POSIX name of a segment, or undefined for one that other processes cannot read (a SharedArrayBuffer). */
function nameOf(segment: Segment | SegmentHandle | null | undefined): string | undefined {
  if (segment === null || segment === undefined || segment.kind !== 'shm') return undefined;
  return (segment as ShmSegment | ShmHandle).name;
}

/**
 * Lists an object in this process's registry. A no-op for objects outside POSIX shared memory. Never throws:
 * listing is a convenience, never a reason for an object to fail.
 */
export function register(
  op: 'create' | 'attach',
  kind: string,
  segment: Segment | SegmentHandle,
  base: number,
  label: string | undefined,
  parts?: readonly (Segment | SegmentHandle | null)[],
): void {
  const seg = nameOf(segment);
  if (seg === undefined) return;
  if (open === undefined) open = openRegistry();
  if (open === null) return;
  if (tid === 0) tid = loadNative()?.gettid() ?? threadId + 1;
  const record: RegistryRecord = {
    op,
    kind,
    ...(label === undefined ? {} : { label }),
    seg,
    base,
    ...(parts === undefined ? {} : { parts: parts.map((p) => nameOf(p) ?? null) }),
    pid: process.pid,
    tid,
    at: Date.now(),
  };
  const line = Buffer.from(`${JSON.stringify(record)}\n`);
  const at = RECORDS + Atomics.add(open.i32, CURSOR, line.length);
  if (at + line.length > SIZE) return;
  try {
    open.seg.commit(at, line.length);
  } catch {
    return;
  }
  line.copy(open.seg.bytes, at);
}

/** `register('create', …)` for a primitive made in this thread (its `Place`). */
export function registerCreated(kind: string, place: { seg: Segment; base: number; label?: string }): void {
  register('create', kind, place.seg, place.base, place.label);
}

/** For a handle reviver: registers the object attached from `state`, then returns it. */
/** Kinds whose arrival in a process is recorded (a Pipe's Connection records itself, with its end). */
const LISTED_ON_ARRIVAL = new Set([
  'Queue',
  'JoinableQueue',
  'SimpleQueue',
  'Lock',
  'RLock',
  'Semaphore',
  'BoundedSemaphore',
  'Event',
  'Condition',
  'Barrier',
  'Value',
  'SharedArray',
]);

onObjectArrival((type, object, state) => {
  if (LISTED_ON_ARRIVAL.has(type))
    registerAttached(type, object, state as { segment: SegmentHandle; base?: number; label?: string });
});

export function registerAttached<T>(
  kind: string,
  object: T,
  state: { segment: SegmentHandle; base?: number; label?: string },
): T {
  register('attach', kind, state.segment, state.base ?? 0, state.label);
  return object;
}

// ------------------------------------------------------------------ reading (procq ls)

/** One registry file found in /dev/shm. */
export interface RegistryFile {
  readonly pid: number;
  readonly start: string;
  readonly records: RegistryRecord[];
}

/** Reads `length` bytes at `offset` of `/dev/shm/<name>` with plain reads (no mapping, no lock); null when gone. */
export function readShm(name: string, offset: number, length: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(`${SHM_DIR}/${name.replace(/^\//, '')}`, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, offset);
    return n === length ? buf : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function parseRecords(bytes: Buffer): RegistryRecord[] {
  const records: RegistryRecord[] = [];
  for (const raw of bytes.toString('utf8').split('\n')) {
    const line = raw.replace(/^\0+/, '');
    if (line === '' || line.includes('\0')) continue;
    try {
      const r = JSON.parse(line) as RegistryRecord;
      if (typeof r.seg === 'string' && typeof r.kind === 'string' && Number.isInteger(r.base))
        records.push(r);
    } catch {
      // a record being written: it will parse next time
    }
  }
  return records;
}

/** Every registry readable by this user, with its records. */
export function readRegistries(): RegistryFile[] {
  let entries: string[];
  try {
    entries = readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  const files: RegistryFile[] = [];
  for (const entry of entries) {
    const m = REGISTRY_RE.exec(entry);
    if (m === null) continue;
    const head = readShm(entry, 0, 8);
    if (head === null || head.readInt32LE(0) !== REGISTRY_MAGIC) continue;
    const used = Math.min(head.readUInt32LE(CURSOR * 4), SIZE - RECORDS);
    const body = used === 0 ? Buffer.alloc(0) : readShm(entry, RECORDS, used);
    if (body === null) continue;
    files.push({ pid: Number(m[1]), start: m[2]!, records: parseRecords(body) });
  }
  return files;
}
