/**
 * Who am I: the main process, or a procq child (a worker thread or an OS process started by `Process`)?
 *
 * The child bootstraps record the child's identity in a global slot before they import the user's module, so that
 * `isMainProcess()` is already false while that module's top level runs (Python's `__name__ != "__main__"`).
 * The slot lives on `globalThis` under a registered symbol rather than in a module variable: the bootstrap and the
 * user's module may load this file twice (for example once as `.js` and once as `.ts` under a loader), and both
 * copies must agree. Every thread has its own `globalThis`, so a worker never sees its parent's slot.
 */
import { isMainThread, threadId } from 'node:worker_threads';

/**
 * How a child starts: `'spawn'` a fresh Node process, `'forkserver'` a warm Node process started ahead of time
 * (much faster to start; see `setStartMethod`), `'thread'` a worker thread of this process.
 */
export type StartMethod = 'spawn' | 'forkserver' | 'thread';

/** What a child knows about itself; set by its bootstrap. Structured-cloneable and JSON-safe. */
export interface ChildIdentity {
  readonly name: string;
  /** Python's `_identity`: the parent's identity plus this child's number among its siblings. */
  readonly identity: readonly number[];
  readonly daemon: boolean;
  readonly startMethod: StartMethod;
  readonly parent: { readonly name: string; readonly pid: number; readonly threadId: number };
}

/** A snapshot describing a process (or a thread started with `startMethod: 'thread'`). */
export interface ProcessInfo {
  readonly name: string;
  /** The OS process id. Threads share their process's pid. */
  readonly pid: number;
  /** The worker thread id within `pid` (0 for a process's main thread). */
  readonly threadId: number;
  readonly daemon: boolean;
  /** How this process was started; `null` for the main process. */
  readonly startMethod: StartMethod | null;
}

/** The parent as its child sees it. */
export interface ParentInfo {
  readonly name: string;
  readonly pid: number;
  readonly threadId: number;
}

const SELF = Symbol.for('procq.process.self');
const COUNTER = Symbol.for('procq.process.counter');
const BOOTSTRAPPING = Symbol.for('procq.process.bootstrapping');
type Slots = { [SELF]?: ChildIdentity; [COUNTER]?: number; [BOOTSTRAPPING]?: boolean };
const slots = globalThis as typeof globalThis & Slots;

/** Called by a child bootstrap, once, before the user's module is imported. */
export function setChildIdentity(identity: ChildIdentity): void {
  slots[SELF] = identity;
}

export function childIdentity(): ChildIdentity | undefined {
  return slots[SELF];
}

/**
 * True while a child imports its target's module. Starting a process then means the module's top level starts
 * processes without an `isMainProcess()` guard: every child would start children of its own, without end.
 */
export function setBootstrapping(value: boolean): void {
  slots[BOOTSTRAPPING] = value;
}

export function isBootstrapping(): boolean {
  return slots[BOOTSTRAPPING] === true;
}

/**
 * `true` in the program's main thread when it was not started by procq: the place for the parent's code, guarded by
 * `if (isMainProcess()) { … }` as Python guards it with `if __name__ == "__main__":`. `false` inside every child
 * (`'thread'` or `'spawn'`), and in any other worker thread.
 */
export function isMainProcess(): boolean {
  return slots[SELF] === undefined && isMainThread;
}

/** Describes the calling process (in a child: the child itself; Python's `current_process()`). */
export function currentProcess(): ProcessInfo {
  const self = slots[SELF];
  return Object.freeze({
    name: self?.name ?? 'MainProcess',
    pid: process.pid,
    threadId,
    daemon: self?.daemon ?? false,
    startMethod: self?.startMethod ?? null,
  });
}

/** The process that started this one; `null` in the main process (Python's `parent_process()`). */
export function parentProcess(): ParentInfo | null {
  const parent = slots[SELF]?.parent;
  return parent ? Object.freeze({ ...parent }) : null;
}

/** The identity of the next child this process starts: `[...own identity, n]`, numbered from 1 (Python's rule). */
export function nextChildIdentity(): number[] {
  const n = (slots[COUNTER] ?? 0) + 1;
  slots[COUNTER] = n;
  return [...(slots[SELF]?.identity ?? []), n];
}
