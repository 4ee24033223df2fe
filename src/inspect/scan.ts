/**
 * `procq ls`: every live procq object readable by this user, found through the registries (registry.ts), each
 * read from its own memory with plain reads (read.ts). Never maps a segment, never takes a lock, never writes.
 *
 * Holders: a thread that created or attached an object (its registry record) and still lives. `attached` counts
 * their processes. Stall marks come from comparing who waits with who could end the wait (see `stallOf`).
 */
import { processAlive, type ThreadInfo, threadInfo } from './proc.js';
import {
  BARRIER_WORDS,
  type BarrierStats,
  CONDITION_WORDS,
  type ConditionStats,
  DATA_WORDS,
  type DataStats,
  EVENT_WORDS,
  type EventStats,
  LOCK_WORDS,
  type LockStats,
  type OwnerInfo,
  PIPE_CONTROL_WORDS,
  type PipeStats,
  QUEUE_WORDS,
  type QueueStats,
  type QueueWaiters,
  readBarrier,
  readCondition,
  readData,
  readEvent,
  readLock,
  readPipe,
  readQueue,
  readSemaphore,
  SEMAPHORE_WORDS,
  type SemaphoreStats,
  type Words,
} from './read.js';
import { type RegistryRecord, readRegistries, readShm } from './registry.js';

export type ObjectStats =
  | QueueStats
  | LockStats
  | SemaphoreStats
  | EventStats
  | ConditionStats
  | BarrierStats
  | DataStats
  | PipeStats;

/**
 * Why a row is marked as stalled:
 * - `owner-dead`: a lock (or the lock inside a Condition, Value, SharedArray, Barrier) is held by a thread that
 *   no longer exists (a robust Lock's next waiter takes it over; an RLock's too);
 * - `owner-stopped`: held by a stopped thread (SIGSTOP, a debugger): alive, but it will not release;
 * - `full-no-getter`: a queue is full, putters wait, and no live thread but those putters holds the queue;
 * - `empty-no-putter`: getters wait on an empty, open queue that no live thread but those getters holds;
 * - `creator-dead`: the process that made the object is gone and nobody holds it: memory left behind
 *   (`procq sweep` removes it).
 */
export type StallCode =
  | 'owner-dead'
  | 'owner-stopped'
  | 'full-no-getter'
  | 'empty-no-putter'
  | 'creator-dead';

/** A row of `procq ls --json`: where the object is and who holds it, then its `stats()` fields. */
export type Row = RowPlace & ObjectStats;

export interface RowPlace {
  /** The class, as `stats().kind`. */
  readonly kind: string;
  readonly label: string | null;
  /** The creating process. */
  readonly pid: number;
  /** Whether the creating process still runs. */
  readonly pidAlive: boolean | null;
  /** Live processes holding the object (its creator included, while it runs). */
  readonly attached: number;
  /** Their pids. */
  readonly pids: number[];
  /** The shared-memory segment (`/procq-…`, under `/dev/shm`) and the object's first word in it. */
  readonly segment: string;
  readonly base: number;
  /** null, or why the row looks stuck. */
  readonly stall: StallCode | null;
}

const NAME_RE = /^\/procq-(\d+)-(?:([0-9a-f]+)-)?[0-9a-f]+$/;

interface Holder {
  readonly record: RegistryRecord;
  readonly thread: ThreadInfo;
}

interface Found {
  readonly seg: string;
  readonly base: number;
  kind: string;
  label: string | undefined;
  parts: readonly (string | null)[] | undefined;
  creator: RegistryRecord | undefined;
  readonly holders: Holder[];
}

/** Reads `words` words of object memory; null when the segment is gone. */
function wordsAt(seg: string, base: number, words: number): Words | null {
  const buf = readShm(seg, base * 4, words * 4);
  if (buf === null) return null;
  return (i) => (i >= 0 && i < words ? buf.readInt32LE(i * 4) : 0);
}

const WORDS: Record<string, number> = {
  Lock: LOCK_WORDS,
  RLock: LOCK_WORDS,
  Semaphore: SEMAPHORE_WORDS,
  BoundedSemaphore: SEMAPHORE_WORDS,
  Event: EVENT_WORDS,
  Condition: CONDITION_WORDS,
  Barrier: BARRIER_WORDS,
  Value: DATA_WORDS,
  SharedArray: DATA_WORDS,
};

function readObject(
  f: Found,
  resolve: (id: number) => OwnerInfo,
): { stats: ObjectStats; waiters?: QueueWaiters } | null {
  const { kind, label } = f;
  switch (kind) {
    case 'Queue':
    case 'JoinableQueue':
    case 'SimpleQueue': {
      const w = wordsAt(f.seg, 0, QUEUE_WORDS);
      return w === null ? null : readQueue(w, kind, label, resolve);
    }
    case 'Pipe': {
      const control = wordsAt(f.seg, 0, PIPE_CONTROL_WORDS);
      if (control === null) return null;
      const rings = (f.parts ?? []).map((p) => (p === null ? null : wordsAt(p, 0, QUEUE_WORDS)));
      return { stats: readPipe(control, rings, label) };
    }
  }
  const n = WORDS[kind];
  if (n === undefined) return null;
  const w = wordsAt(f.seg, f.base, n);
  if (w === null) return null;
  switch (kind) {
    case 'Lock':
    case 'RLock':
      return { stats: readLock(w, kind, label, resolve) };
    case 'Semaphore':
    case 'BoundedSemaphore':
      return { stats: readSemaphore(w, kind, label) };
    case 'Event':
      return { stats: readEvent(w, label) };
    case 'Condition':
      return { stats: readCondition(w, label, resolve) };
    case 'Barrier':
      return { stats: readBarrier(w, label, resolve) };
    default:
      return { stats: readData(w, kind as DataStats['kind'], label, resolve) };
  }
}

function ownerStall(owner: OwnerInfo | null | undefined): StallCode | null {
  if (owner === null || owner === undefined) return null;
  if (owner.alive === false) return 'owner-dead';
  if (owner.stopped) return 'owner-stopped';
  return null;
}

/** True when every live holder thread is one of `waiting` (so nobody else can end their wait). */
function onlyWaitersHold(holders: Holder[], waiting: OwnerInfo[]): boolean {
  const tids = new Set(waiting.filter((o) => o.alive !== false).map((o) => o.tid));
  if (tids.size === 0) return false;
  return holders.every((h) => h.thread.alive === false || tids.has(h.thread.tid));
}

function stallOf(
  stats: ObjectStats,
  waiters: QueueWaiters | undefined,
  holders: Holder[],
  creatorAlive: boolean | null,
): StallCode | null {
  const s = stats as { owner?: OwnerInfo | null; shutDown?: boolean };
  const mark = ownerStall(s.owner);
  if (mark !== null) return mark;
  if (waiters !== undefined && 'qsize' in stats && !s.shutDown) {
    const q = stats as QueueStats;
    if (q.maxsize > 0 && q.qsize >= q.maxsize && q.putters > 0 && onlyWaitersHold(holders, waiters.putters))
      return 'full-no-getter';
    if (q.qsize <= 0 && q.getters > 0 && onlyWaitersHold(holders, waiters.getters)) return 'empty-no-putter';
  }
  if (creatorAlive === false && holders.every((h) => h.thread.alive === false)) return 'creator-dead';
  return null;
}

/**
 * Every procq object readable by this user, one row each, oldest first; with `pid`, only those that process
 * created or holds.
 */
export function listObjects(pid?: number): Row[] {
  const threads = new Map<number, ThreadInfo>();
  const thread = (tid: number): ThreadInfo => {
    let t = threads.get(tid);
    if (t === undefined) {
      t = threadInfo(tid);
      threads.set(tid, t);
    }
    return t;
  };
  const found = new Map<string, Found>();
  const order: Found[] = [];
  for (const reg of readRegistries()) {
    const regAlive = processAlive(reg.pid, reg.start);
    for (const record of reg.records) {
      const key = `${record.seg}#${record.base}`;
      let f = found.get(key);
      if (f === undefined) {
        f = {
          seg: record.seg,
          base: record.base,
          kind: record.kind,
          label: record.label,
          parts: record.parts,
          creator: undefined,
          holders: [],
        };
        found.set(key, f);
        order.push(f);
      }
      if (record.op === 'create') {
        f.creator = record;
        f.kind = record.kind;
        f.label = record.label ?? f.label;
        f.parts = record.parts ?? f.parts;
      }
      const t = regAlive === false ? { ...thread(record.tid), alive: false } : thread(record.tid);
      f.holders.push({ record, thread: t });
    }
  }
  const rows: Row[] = [];
  for (const f of order) {
    const read = readObject(f, thread);
    if (read === null) continue;
    const m = NAME_RE.exec(f.seg);
    const pid = f.creator?.pid ?? (m === null ? 0 : Number(m[1]));
    const pidAlive = processAlive(pid, m?.[2]);
    const pids = [...new Set(f.holders.filter((h) => h.thread.alive !== false).map((h) => h.thread.pid))];
    if (pidAlive !== false && !pids.includes(pid)) pids.unshift(pid);
    const { kind, label, ...rest } = read.stats;
    rows.push({
      kind,
      label,
      pid,
      pidAlive,
      attached: pids.length,
      pids: pids.sort((a, b) => a - b),
      segment: f.seg,
      base: f.base,
      stall: stallOf(read.stats, read.waiters, f.holders, pidAlive),
      ...rest,
    } as Row);
  }
  return pid === undefined ? rows : rows.filter((r) => r.pid === pid || r.pids.includes(pid));
}
