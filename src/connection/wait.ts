/**
 * `wait(objects, { timeout })`: Python's `multiprocessing.connection.wait`, the subset of `objects` that is ready,
 * waiting until at least one is (or the timeout passes: then `[]`).
 *
 * Ready means:
 * - a `Connection` (a `Pipe`'s) or a `SocketConnection`: `recv` would return at once (a message, or EOF);
 * - a `Queue` (and `JoinableQueue`, `SimpleQueue`): `get` would return at once (an item, or shut down);
 * - a `Process`: it has ended (Python waits on `p.sentinel`; procq takes the `Process` itself).
 *
 * ```ts
 * for (;;) {
 *   for (const ready of await wait([conn, queue, worker], { timeout: 1000 })) { … }
 * }
 * ```
 *
 * No polling: the async form sleeps on each shared-memory object's own epoch word (advertised as its readers do,
 * so its writers wake us), on each socket's readiness and each process's exit, all at once, and cancels the
 * other sleeps when one ends. `waitSync` blocks the thread on the same words: exactly on the word of a single
 * object; over several it sleeps on each in turn for at most 2 ms (a thread can sleep on one futex word at a
 * time), so an object other than the one slept on is seen within 2 ms. Sockets and `Process` objects are read by
 * the event loop, so only `wait` takes them. An empty list returns `[]` at once (Python's would block).
 *
 * Observers and readers: `wait()` sleeps on the word a `get`/`recv` sleeps on, and a put wakes one sleeper per item
 * made available, whoever it is. An observer woken that way may have taken the wake-up meant for a real reader of
 * another thread or process, which would then sleep until its slice ends (100 ms). So an observer that wakes to a
 * ready object passes one wake-up on to the word's next sleeper (`passWakeOn`): a reader behind it is woken at once.
 * (The pass may wake a reader for an item another has taken meanwhile: it looks, finds nothing, sleeps again.)
 */
import { onAbort } from '../abort.js';
import { AbortError, abortErrorFrom, ProcessError, rejecting, TimeoutError } from '../errors.js';
import { Connection } from '../pipe/connection.js';
import { Process } from '../process/process.js';
import { Queue } from '../queue/queue.js';
import { advertise, withdraw } from '../ring/advert.js';
import { deadlineOf, waitSync as sleepSync, waitAsync } from '../ring/waiting.js';
import { describe } from '../sync/core.js';
import { SocketConnection } from './socket-connection.js';
import type { WaitPoint } from './wait-point.js';

/** What `wait` accepts. */
export type Waitable = Connection<any> | SocketConnection<any> | Queue<any> | Process;

export interface WaitForOptions {
  /** Milliseconds; `undefined`/`null`: no limit; 0: just look. @default no limit */
  timeout?: number | null;
  /** `wait` only: aborting rejects with `AbortError`. */
  signal?: AbortSignal;
}

/** Sleep slice per object when `waitSync` watches several. */
const MULTI_SLICE_MS = 2;

function checkObjects<T>(objects: unknown): T[] {
  if (
    objects === null ||
    typeof objects !== 'object' ||
    typeof (objects as any)[Symbol.iterator] !== 'function'
  ) {
    throw new TypeError(
      `Expected \`objects\` to be an iterable of Connections, Queues and Processes, got ${describe(objects)}`,
    );
  }
  const list = [...(objects as Iterable<T>)];
  for (const o of list) {
    if (
      !(
        o instanceof Connection ||
        o instanceof SocketConnection ||
        o instanceof Queue ||
        o instanceof Process
      )
    ) {
      throw new TypeError(`Expected a Connection, SocketConnection, Queue or Process, got ${describe(o)}`);
    }
  }
  return list;
}

function checkTimeout(options: unknown): number {
  if (options === undefined) return Number.POSITIVE_INFINITY;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const t = (options as WaitForOptions).timeout;
  if (t === undefined || t === null) return Number.POSITIVE_INFINITY;
  if (typeof t !== 'number' || Number.isNaN(t))
    throw new TypeError(`Expected \`timeout\` to be a number, got ${describe(t)}`);
  return Math.max(0, t); // Python: a negative timeout is 0
}

function pointOf(o: Waitable): WaitPoint | undefined {
  return o instanceof Connection || o instanceof Queue ? o._waitPoint() : undefined;
}

function isReady(o: Waitable, point: WaitPoint | undefined): boolean {
  if (point !== undefined) return point.ready();
  if (o instanceof SocketConnection) return o._isReady();
  const p = o as Process;
  if (p._whenEnded() === undefined)
    throw new ProcessError(`cannot wait for a process that has not been started (${p.name})`);
  return p.exitCode !== null;
}

/**
 * After an observer's sleep on `point` ended with the object ready (or its futex wait was woken): wakes the next
 * sleeper of the word, if anyone is advertised. The observer may have consumed a wake-up counted for a reader.
 */
function passWakeOn(point: WaitPoint): void {
  const { seg, waiters } = point;
  const count = typeof waiters === 'number' ? waiters : waiters.count;
  if (Atomics.load(seg.i32, count) > 0) seg.notify(point.word, 1);
}

/** Resolves true once `o` is ready, false at the deadline; rejects with AbortError when `signal` aborts. */
async function whenReady(
  o: Waitable,
  point: WaitPoint | undefined,
  deadline: number,
  signal: AbortSignal,
): Promise<boolean> {
  if (point !== undefined) {
    return waitAsync(
      point.seg,
      point.word,
      point.waiters,
      point.ready,
      deadline,
      signal,
      point.sliceMs,
      point.onSlice,
    );
  }
  if (o instanceof SocketConnection) {
    try {
      await o._whenReady(signal, deadline - performance.now());
      return true;
    } catch (err) {
      if (err instanceof TimeoutError) return false;
      throw err;
    }
  }
  const ended = (o as Process)._whenEnded()!;
  return new Promise<boolean>((resolve, reject) => {
    const timer =
      deadline === Number.POSITIVE_INFINITY
        ? undefined
        : setTimeout(() => finish(() => resolve(false)), deadline - performance.now());
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      unsubscribe();
      settle();
    };
    const unsubscribe = onAbort(signal, () => finish(() => reject(abortErrorFrom(signal))));
    void ended.then(() => finish(() => resolve(true)));
  });
}

/**
 * The objects of `objects` that are ready (in their order), waiting up to `timeout` ms for one to be; `[]` when
 * the timeout passes. Rejects with `TypeError` for an object of another kind, `ClosedError` for a closed one,
 * `AbortError` when `signal` aborts.
 *
 * Abort safety: nothing is read from any object either way.
 */
export function wait<T extends Waitable>(objects: Iterable<T>, options?: WaitForOptions): Promise<T[]> {
  return rejecting(async () => {
    const list = checkObjects<T>(objects);
    const timeoutMs = checkTimeout(options);
    const signal = options?.signal;
    if (signal?.aborted) throw abortErrorFrom(signal);
    const points = list.map(pointOf);
    const readyNow = () => list.filter((o, i) => isReady(o, points[i]));
    const first = readyNow();
    if (first.length > 0 || timeoutMs === 0 || list.length === 0) return first;
    const deadline = deadlineOf(timeoutMs);
    const stop = new AbortController();
    const unsubscribe = signal === undefined ? undefined : onAbort(signal, () => stop.abort());
    const hold = setInterval(() => {}, 1 << 30); // a wait keeps the process alive, as a pending recv does
    const waits = list.map((o, i) => whenReady(o, points[i], deadline, stop.signal));
    let settled: PromiseSettledResult<boolean>[] = [];
    try {
      await Promise.race(waits);
    } catch (err) {
      if (!(err instanceof AbortError)) throw err;
    } finally {
      unsubscribe?.();
      stop.abort();
      clearInterval(hold);
      settled = await Promise.allSettled(waits);
    }
    const ready = signal?.aborted ? [] : readyNow();
    // After looking (a reader woken by the pass could otherwise take the item before we see it).
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value && points[i] !== undefined) passWakeOn(points[i]);
    });
    if (signal?.aborted) throw abortErrorFrom(signal);
    return ready;
  });
}

/**
 * `wait` blocking the calling thread, over `Pipe` Connections and Queues (sockets and processes need the event
 * loop: `TypeError`, use `wait`).
 */
export function waitSync<T extends Connection<any> | Queue<any>>(
  objects: Iterable<T>,
  options?: { timeout?: number | null },
): T[] {
  const list = checkObjects<T>(objects);
  const timeoutMs = checkTimeout(options);
  const points = list.map((o) => {
    const point = pointOf(o);
    if (point === undefined) {
      throw new TypeError(
        `waitSync cannot wait for a ${describe(o)}: it is read by the event loop; use \`await wait()\``,
      );
    }
    return point;
  });
  const readyNow = () => list.filter((_, i) => points[i]!.ready());
  const first = readyNow();
  if (first.length > 0 || timeoutMs === 0 || list.length === 0) return first;
  const deadline = deadlineOf(timeoutMs);
  if (points.length === 1) {
    const p = points[0]!;
    const woke = sleepSync(p.seg, p.word, p.waiters, p.ready, deadline, p.sliceMs, p.onSlice);
    const ready = readyNow();
    if (woke) passWakeOn(p);
    return ready;
  }
  let turn = 0;
  let lastSlice = performance.now();
  /** The object whose wake-up the last sleep consumed: passed on once we have looked. */
  let woken: WaitPoint | undefined;
  for (;;) {
    // Advertise on every object (their writers then bump their epochs), read the epochs, check again, sleep.
    const slots = points.map((p) => advertise(p.seg.i32, p.waiters));
    const seen = points.map((p) => Atomics.load(p.seg.i32, p.word));
    try {
      const ready = readyNow();
      if (woken !== undefined) passWakeOn(woken);
      woken = undefined;
      if (ready.length > 0) return ready;
      const left = deadline - performance.now();
      if (left <= 0) return [];
      const p = points[turn]!;
      if (p.seg.wait(p.word, seen[turn]!, Math.min(left, MULTI_SLICE_MS)) === 'ok') woken = p;
      turn = (turn + 1) % points.length;
    } finally {
      for (let i = 0; i < points.length; i++) withdraw(points[i]!.seg.i32, points[i]!.waiters, slots[i]!);
    }
    const now = performance.now();
    if (now - lastSlice >= 100) {
      lastSlice = now;
      for (const p of points) p.onSlice?.();
    }
  }
}
