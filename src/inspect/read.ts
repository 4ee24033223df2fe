/**
 * Decoding the state of each kind of procq object from its words, for `stats()` (live memory, `Atomics.load`)
 * and for `procq ls` (plain reads of `/dev/shm` files). Reads only; never takes a lock, never writes, so looking
 * can neither change nor stall what is looked at. A snapshot may be torn across words (each word is read on its
 * own); every figure is exact for the instant its word was read.
 *
 * The word offsets are the objects' own layouts: queues from `ring/layout.ts` (imported), the primitives
 * restated from the layout comment at the top of each file in `sync/` and `pipe/control.ts` (they are private
 * there). Only words documented as stable are read: counts, owners, waiter counts, flags fixed at creation.
 */
import {
  CAP,
  DONE,
  GET_ADVERT,
  GET_COUNT,
  HEAD,
  HEADER_BYTES,
  MAGIC_VALUE,
  MAXSIZE,
  PUT_ADVERT,
  PUT_COUNT,
  SHUTDOWN,
  TAIL,
} from '../ring/layout.js';
import { tidOf } from '../wait/identity.js';

/** Word `i` of an object, counted from its first word. */
export type Words = (i: number) => number;

/** A thread that holds or waits: its process, its kernel thread id, and whether it still lives. */
export interface OwnerInfo {
  /** The process (thread group) the thread belongs to. */
  readonly pid: number;
  /** Kernel thread id (equal to `pid` for a process's main thread). */
  readonly tid: number;
  /** false: the thread is gone (killed, ended) or a zombie; null: cannot be told here. */
  readonly alive: boolean | null;
  /** Stopped by a signal or a debugger (SIGSTOP, `kill -STOP`): alive, but will not move. */
  readonly stopped: boolean;
}

/** Turns the id stored in an owner or waiter word into an `OwnerInfo`. */
export type Resolve = (id: number) => OwnerInfo;

export interface QueueStats {
  readonly kind: 'Queue' | 'JoinableQueue' | 'SimpleQueue';
  readonly label: string | null;
  /** Items in the queue. */
  readonly qsize: number;
  /** The bound given at construction; 0: none. */
  readonly maxsize: number;
  /** Bytes the queued items take in the ring (payloads, frame headers, padding). */
  readonly bytesQueued: number;
  /** Bytes of memory the queue holds now: its header and its ring at its current size. */
  readonly bytesHeld: number;
  /** Threads waiting in `get` for an item (advertised sleepers whose thread still lives). */
  readonly getters: number;
  /** Threads waiting in `put` for room. */
  readonly putters: number;
  /** Whether `shutdown()` was called (anywhere). */
  readonly shutDown: boolean;
  /** Items ever put, modulo 2^32 (a counter for rates). */
  readonly puts: number;
  /** Items ever taken, modulo 2^32. */
  readonly gets: number;
  /** JoinableQueue: items put and not yet marked done. null for the other kinds. */
  readonly unfinished: number | null;
}

/** The threads advertised in a queue's waiter slots (for stall diagnosis). */
export interface QueueWaiters {
  readonly getters: OwnerInfo[];
  readonly putters: OwnerInfo[];
}

const u32 = (n: number): number => n >>> 0;

function slotOwners(w: Words, advert: { slots: number; size: number }, resolve: Resolve): OwnerInfo[] {
  const out: OwnerInfo[] = [];
  for (let i = 0; i < advert.size; i++) {
    const id = w(advert.slots + i);
    if (id !== 0) out.push(resolve(id));
  }
  return out;
}

/** Advertised waiters less those whose slot names a dead thread (a sleeper killed in its sleep). */
function liveCount(count: number, owners: OwnerInfo[]): number {
  return Math.max(0, count - owners.filter((o) => o.alive === false).length);
}

/** A queue's state from its header words; null when the words are not a procq ring. */
export function readQueue(
  w: Words,
  kind: QueueStats['kind'],
  label: string | undefined,
  resolve: Resolve,
): { stats: QueueStats; waiters: QueueWaiters } | null {
  if (w(0) !== MAGIC_VALUE) return null;
  const puts = u32(w(PUT_COUNT));
  const gets = u32(w(GET_COUNT));
  const waiters = {
    getters: slotOwners(w, GET_ADVERT, resolve),
    putters: slotOwners(w, PUT_ADVERT, resolve),
  };
  const stats: QueueStats = {
    kind,
    label: label ?? null,
    qsize: (puts - gets) | 0,
    maxsize: w(MAXSIZE),
    bytesQueued: u32(w(TAIL) - w(HEAD)),
    bytesHeld: HEADER_BYTES + u32(w(CAP)),
    getters: liveCount(w(GET_ADVERT.count), waiters.getters),
    putters: liveCount(w(PUT_ADVERT.count), waiters.putters),
    shutDown: w(SHUTDOWN) !== 0,
    puts,
    gets,
    unfinished: kind === 'JoinableQueue' ? (puts - u32(w(DONE))) | 0 : null,
  };
  return { stats, waiters };
}

export interface LockStats {
  readonly kind: 'Lock' | 'RLock';
  readonly label: string | null;
  readonly locked: boolean;
  /** Who holds it; null when free. */
  readonly owner: OwnerInfo | null;
  /** Threads waiting to acquire it. */
  readonly waiters: number;
  /** RLock: how many times the owner holds it (0 when free). null for a Lock. */
  readonly depth: number | null;
}

/** Words of Lock / RLock (sync/lock.ts, sync/rlock.ts): +1 OWNER (tid + tag), +2 WAIT, +3 FLAGS/COUNT, +4 START. */
export const LOCK_WORDS = 5;

export function readLock(
  w: Words,
  kind: LockStats['kind'],
  label: string | undefined,
  resolve: Resolve,
): LockStats {
  const id = tidOf(w(1));
  return {
    kind,
    label: label ?? null,
    locked: id !== 0,
    owner: id === 0 ? null : resolve(id),
    waiters: Math.max(0, w(2)),
    depth: kind === 'RLock' ? (id === 0 ? 0 : Math.max(1, w(3))) : null,
  };
}

export interface SemaphoreStats {
  readonly kind: 'Semaphore' | 'BoundedSemaphore';
  readonly label: string | null;
  /** Units free now (`getValue()`). */
  readonly value: number;
  /** BoundedSemaphore: its initial value, the most `value` can be. null for a Semaphore. */
  readonly bound: number | null;
  /** Threads waiting in `acquire`. */
  readonly waiters: number;
}

/** Words of a semaphore (sync/semaphore.ts): +1 VALUE, +2 WAIT, +3 BOUND (-1: none). */
export const SEMAPHORE_WORDS = 4;

export function readSemaphore(
  w: Words,
  kind: SemaphoreStats['kind'],
  label: string | undefined,
): SemaphoreStats {
  const bound = w(3);
  return {
    kind,
    label: label ?? null,
    value: w(1),
    bound: bound < 0 ? null : bound,
    waiters: Math.max(0, w(2)),
  };
}

export interface EventStats {
  readonly kind: 'Event';
  readonly label: string | null;
  readonly set: boolean;
  /** Threads waiting in `wait`. */
  readonly waiters: number;
}

/** Words of an Event (sync/event.ts): +1 FLAG, +2 GEN, +3 WAIT. */
export const EVENT_WORDS = 4;

export function readEvent(w: Words, label: string | undefined): EventStats {
  return { kind: 'Event', label: label ?? null, set: w(1) === 1, waiters: Math.max(0, w(3)) };
}

export interface ConditionStats {
  readonly kind: 'Condition';
  readonly label: string | null;
  /** Threads waiting in `wait` / `waitFor` (notified ones not yet awake included). */
  readonly waiters: number;
  /** The holder of the Condition's own RLock (null: free, or the Condition waits under a lock given to it). */
  readonly owner: OwnerInfo | null;
}

/** Words of a Condition (sync/condition.ts): +3 SLEEP; its own RLock, when it has one, at +260 (SLOTS + K). */
export const CONDITION_OWN_LOCK_AT = 4 + 256;
export const CONDITION_WORDS = CONDITION_OWN_LOCK_AT + LOCK_WORDS;
const KIND_RLOCK = 0x70710002;

export function readCondition(w: Words, label: string | undefined, resolve: Resolve): ConditionStats {
  const ownLock = w(CONDITION_OWN_LOCK_AT) === KIND_RLOCK;
  const id = ownLock ? tidOf(w(CONDITION_OWN_LOCK_AT + 1)) : 0;
  return {
    kind: 'Condition',
    label: label ?? null,
    waiters: Math.max(0, w(3)),
    owner: id === 0 ? null : resolve(id),
  };
}

export interface BarrierStats {
  readonly kind: 'Barrier';
  readonly label: string | null;
  readonly parties: number;
  /** Parties arrived in the round now filling (Python's `n_waiting`). */
  readonly waiting: number;
  readonly broken: boolean;
  /** Holder of the barrier's internal lock (held for an instant; a dead holder here breaks the barrier). */
  readonly owner: OwnerInfo | null;
}

/** Words of a Barrier (sync/barrier.ts): +1 PARTIES, +3 LOCK, +6 COUNT, +7 BROKEN. */
export const BARRIER_WORDS = 16;

export function readBarrier(w: Words, label: string | undefined, resolve: Resolve): BarrierStats {
  const id = tidOf(w(3));
  return {
    kind: 'Barrier',
    label: label ?? null,
    parties: w(1),
    waiting: Math.max(0, w(6)),
    broken: w(7) === 1,
    owner: id === 0 ? null : resolve(id),
  };
}

export interface DataStats {
  readonly kind: 'Value' | 'SharedArray';
  readonly label: string | null;
  /** Python's typecode (`'i'`, `'d'`, …). */
  readonly typecode: string;
  readonly length: number;
  /** Holder of the object's own RLock (null: free, none, or a lock given to it, listed on its own). */
  readonly owner: OwnerInfo | null;
}

/** Words of a Value / SharedArray (sync/shared-data.ts): +1 TYPECODE, +2 LENGTH, +3 LOCKMODE, RLock at +4..+8. */
export const DATA_WORDS = 9;

export function readData(
  w: Words,
  kind: DataStats['kind'],
  label: string | undefined,
  resolve: Resolve,
): DataStats {
  const id = w(3) === 1 ? tidOf(w(5)) : 0;
  return {
    kind,
    label: label ?? null,
    typecode: String.fromCharCode(w(1)),
    length: w(2),
    owner: id === 0 ? null : resolve(id),
  };
}

export interface PipeStats {
  readonly kind: 'Pipe';
  readonly label: string | null;
  readonly duplex: boolean;
  /** Bytes waiting to be received by each end: `[end 0, end 1]` (end 1 of a one-way pipe never receives: 0). */
  readonly bytes: [number, number];
  /** Messages waiting to be received by each end. */
  readonly messages: [number, number];
  /** Holders of each end (Connection objects alive in any thread or process); an end with none is closed. */
  readonly holders: [number, number];
}

/** Words of a pipe's control segment (pipe/control.ts): +1 DUPLEX, holders of end e at 4 + e*64 .. */
export const PIPE_CONTROL_WORDS = 4 + 2 * 64;

export function readPipe(
  control: Words,
  rings: readonly (Words | null)[],
  label: string | undefined,
): PipeStats {
  const holders = (end: number): number => {
    let n = 0;
    for (let i = 0; i < 64; i++) if (control(4 + end * 64 + i) !== 0) n++;
    return n;
  };
  const ring = (e: number): [number, number] => {
    const w = rings[e];
    if (w === null || w === undefined || w(0) !== MAGIC_VALUE) return [0, 0];
    return [u32(w(TAIL) - w(HEAD)), (w(PUT_COUNT) - w(GET_COUNT)) | 0];
  };
  const [b0, m0] = ring(0);
  const [b1, m1] = ring(1);
  return {
    kind: 'Pipe',
    label: label ?? null,
    duplex: control(1) === 1,
    bytes: [b0, b1],
    messages: [m0, m1],
    holders: [holders(0), holders(1)],
  };
}

/** Queue header words read by `readQueue` (the whole header). */
export const QUEUE_WORDS = HEADER_BYTES / 4;
