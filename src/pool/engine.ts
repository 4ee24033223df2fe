/**
 * The pool's engine: its workers, who holds which task, and what happens when a worker ends.
 *
 * Each worker reads its own inbox (a `Queue`), and the engine decides what goes where, as piscina does, instead
 * of every worker reading one shared task queue as CPython's does. The reason is a killed worker: CPython cannot
 * tell which task a dead worker had taken, and its `map` then waits forever (bpo-22393). Here the engine knows
 * exactly: the tasks it put in the dead worker's inbox that are still there were never seen (a reader that dies
 * before committing a `get` leaves the item in the queue) and go to another worker; the one it had taken and not
 * answered fails with a `ProcessError` that says which worker died and how.
 *
 * Flow:
 * - `dispatch()` hands chunks to workers, up to `DEPTH` per worker (one running, one waiting, so a worker never
 *   idles while its next task crosses the queue), oldest job first; an idle worker takes back a waiting task
 *   from a busy one's inbox ("stealing": the `get` either gets it or the busy worker already has it).
 * - `pump()` runs while tasks are out, exits are to be handled, or a worker retiring at `maxtasksperchild` has
 *   yet to exit: it reads result messages in batches (`getMany`), settles chunks, handles worker exits, and
 *   dispatches again. While it runs, a watcher per worker
 *   waits for that worker's exit and wakes the pump (aborting its `getMany`: nothing is taken). All settling
 *   happens in the pump, in order: results that a dead worker put before it died are read first.
 * - The pump, the watchers and every pending wait stop when nothing is left to wait for, so an idle pool does not keep the
 *   event loop alive (its workers are daemons, as in Python).
 *
 * States: `run` → `close` (no new work; workers are stopped once the work is done) or `terminate` (workers are
 * ended now; unfinished work fails). A pool whose workers cannot start or whose initializer throws is *broken*:
 * it is terminated, and every call rejects with the reason.
 */
import { constants } from 'node:os';
import { ClosedError, Empty, invariant, ProcessError, ProcqError } from '../errors.js';
import type { StartMethod } from '../process/current.js';
import { Process } from '../process/process.js';
import { Queue } from '../queue/queue.js';
import type { FunctionEntry } from './functions.js';
import { type Job, JobList } from './jobs.js';
import { pack, unpack } from './pack.js';
import {
  type InitMessage,
  type ResultMessage,
  type ResultWire,
  type TaskMessage,
  type TaskWire,
  unpackError,
} from './protocol.js';

/** Task messages a worker holds at once: the one it runs and the next, already in its inbox. */
const DEPTH = 2;
/**
 * Bytes the result queue's ring and each inbox's start with. A map chunk of numbers is a frame of 4 or 8 bytes per
 * item (pack.ts), 50–100 KiB for 12,500 items; a ring that starts smaller grows while the map runs (committing
 * pages, and taking the consumer lock while a worker may hold it) and gives the pages back 200 ms after the map,
 * to grow again in the next one. Pages are committed at creation, before any map (the rings of a pool of 16 workers:
 * 5 MiB of /dev/shm).
 */
const RESULTS_RING_BYTES = 1 << 20;
const INBOX_RING_BYTES = 1 << 18;
/** Result messages read per wake-up. */
const RESULT_BATCH = 512;
/**
 * A watcher waits for its worker's exit in slices of this length (`Process.join(timeout)`), so that it stops
 * within a slice once the pool is idle. An exit ends the wait at once, whatever the slice.
 */
const WATCH_MS = 500;

/** What 'Process' becomes in a worker's name, by start method: CPython's names ('ThreadPoolWorker' is procq's). */
const WORKER_NAMES: Readonly<Record<StartMethod, string>> = {
  spawn: 'SpawnPoolWorker',
  forkserver: 'ForkServerPoolWorker',
  thread: 'ThreadPoolWorker',
};

const moduleExt = /\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] ?? '.js';
const WORKER_MODULE = new URL(`./worker${moduleExt}`, import.meta.url);

interface Chunk {
  readonly id: number;
  readonly job: Job;
  readonly index: number;
  readonly items: unknown[];
}

/** One worker process (or thread), and what the engine knows of it. */
interface Worker {
  readonly serial: number;
  /** Its place in the pool; a replacement takes the same place and inbox. */
  readonly slot: number;
  readonly process: Process;
  readonly inbox: Queue<TaskWire>;
  /** Chunks put in its inbox with no result yet, in the order they were put. */
  readonly out: Map<number, Chunk>;
  /** Function numbers whose spec it has been sent. */
  readonly known: Set<number>;
  /** Tasks sent, for `maxtasksperchild`. */
  sent: number;
  /** It was sent the stop message: it gets no more tasks. */
  stopped: boolean;
  /** Its initializer has run. */
  ready: boolean;
  /** Its exit has been seen and queued for the pump. */
  exited: boolean;
  watching: boolean;
}

export interface EngineOptions {
  readonly processes: number;
  readonly startMethod: StartMethod | undefined;
  readonly maxtasksperchild: number | undefined;
  readonly init: InitMessage | null;
  /** The pool's `label`: its queues are listed by `procq ls` as `<label>.results` and `<label>.inbox`. */
  readonly label?: string;
}

type State = 'run' | 'close' | 'terminate';

export class PoolEngine {
  readonly #options: EngineOptions;
  readonly #results: Queue<ResultWire>;
  readonly #workers: Worker[] = [];
  readonly #bySerial = new Map<number, Worker>();
  readonly #jobs = new JobList();
  /** Chunks taken back from a dead worker's inbox: handed out before anything else. */
  readonly #retry: Chunk[] = [];
  /** Workers whose exit the pump has yet to handle. */
  readonly #exits: Worker[] = [];
  /** Chunks in workers' hands, all workers together. */
  #out = 0;
  #state: State = 'run';
  #broken: unknown;
  #pumping = false;
  #wake: AbortController | undefined;
  #dispatchQueued = false;
  #serial = 0;
  #chunkId = 0;
  readonly #settled: Promise<void>;
  #resolveSettled!: () => void;
  readonly #methodName: string;

  /** Starts the workers; throws (after ending those already started) when one cannot start. */
  constructor(options: EngineOptions) {
    this.#options = options;
    this.#results = new Queue<ResultWire>(0, {
      label: this.#queueLabel('results'),
      capacityBytes: RESULTS_RING_BYTES,
    });
    this.#settled = new Promise((resolve) => (this.#resolveSettled = resolve));
    this.#methodName = WORKER_NAMES[options.startMethod ?? 'spawn'];
    try {
      for (let slot = 0; slot < options.processes; slot++)
        this.#startWorker(
          slot,
          new Queue(0, { label: this.#queueLabel('inbox'), capacityBytes: INBOX_RING_BYTES }),
        );
    } catch (error) {
      this.terminate();
      throw error;
    }
  }

  #queueLabel(what: string): string | undefined {
    const label = this.#options.label;
    return label === undefined ? undefined : `${label.slice(0, 56)}.${what}`;
  }

  get state(): State {
    return this.#state;
  }

  /** Throws when the pool takes no more work: closed, terminated, or broken. */
  checkRunning(): void {
    if (this.#broken !== undefined) throw this.#broken;
    if (this.#state !== 'run') throw new ClosedError('pool');
  }

  submit(job: Job): void {
    this.checkRunning();
    job.wake = () => this.#queueDispatch();
    this.#jobs.push(job);
    this.#dispatch();
  }

  close(): void {
    if (this.#state !== 'run') return;
    this.#state = 'close';
    this.#dispatch();
  }

  terminate(reason?: unknown): void {
    if (this.#state === 'terminate') return;
    this.#state = 'terminate';
    const error =
      reason ?? new ProcqError('the pool was terminated before this task finished', 'PROCQ_TERMINATED');
    for (const worker of this.#workers) {
      for (const chunk of worker.out.values()) chunk.job.failed(chunk.index, error);
      worker.out.clear();
    }
    for (const chunk of this.#retry) chunk.job.failed(chunk.index, error);
    for (const job of this.#jobs.clear()) job.cancel(error);
    this.#retry.length = 0;
    this.#out = 0;
    for (const worker of this.#workers) worker.process.terminate();
    this.#wake?.abort();
    this.#resolveSettled();
  }

  /** Resolves once the work is done (after `close()`) or dropped (`terminate()`), and every worker has ended. */
  async join(): Promise<void> {
    if (this.#state === 'run') {
      throw new ProcessError('cannot join a pool that is still running: call close() or terminate() first');
    }
    await this.#settled;
    // From here no worker is started: close() has stopped them all, terminate() replaces none.
    await Promise.all(this.#workers.map((worker) => worker.process.join()));
  }

  #startWorker(slot: number, inbox: Queue<TaskWire>): void {
    const serial = ++this.#serial;
    const process = new Process({
      target: 'poolWorker',
      module: WORKER_MODULE,
      args: [inbox, this.#results, serial, this.#options.init],
      daemon: true,
      startMethod: this.#options.startMethod,
    });
    // CPython's naming: the Process's own (unique) name, with 'Process' made e.g. 'ForkServerPoolWorker'.
    process.name = process.name.replace(/^Process/, this.#methodName);
    process.start();
    const worker: Worker = {
      serial,
      slot,
      process,
      inbox,
      out: new Map(),
      known: new Set(),
      sent: 0,
      stopped: false,
      ready: false,
      exited: false,
      watching: false,
    };
    this.#workers[slot] = worker;
    this.#bySerial.set(serial, worker);
    if (this.#pumping) void this.#watch(worker);
  }

  #hasWork(): boolean {
    return this.#out > 0 || this.#retry.length > 0 || this.#jobs.hasWork();
  }

  #queueDispatch(): void {
    if (this.#dispatchQueued) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      this.#dispatch();
    });
  }

  /** Hands out chunks, steals for idle workers, stops the workers once a closed pool's work is done. */
  #dispatch(): void {
    if (this.#state === 'terminate') return;
    for (const worker of this.#workers) this.#noticeExit(worker);
    fill: for (let depth = 1; depth <= DEPTH; depth++) {
      for (const worker of this.#workers) {
        while (worker.out.size < depth && this.#canTake(worker)) {
          const chunk = this.#nextChunk();
          if (chunk === undefined) break fill;
          this.#send(worker, chunk);
        }
      }
    }
    this.#steal();
    if (this.#state === 'close' && !this.#hasWork()) {
      for (const worker of this.#workers) {
        if (!worker.stopped && !worker.exited) {
          worker.stopped = true;
          worker.inbox.putSync(null);
        }
      }
      this.#resolveSettled();
    }
    this.#ensurePump();
  }

  #canTake(worker: Worker): boolean {
    return !worker.stopped && !worker.exited && worker.process.exitCode === null;
  }

  #nextChunk(): Chunk | undefined {
    const retry = this.#retry.shift();
    if (retry !== undefined) return retry;
    const found = this.#jobs.take(this.#state !== 'run');
    return (
      found && { id: ++this.#chunkId, job: found.job, index: found.chunk.index, items: found.chunk.items }
    );
  }

  #send(worker: Worker, chunk: Chunk): void {
    const fn: FunctionEntry = chunk.job.fn;
    const message: TaskMessage = {
      id: chunk.id,
      fn: fn.id,
      star: chunk.job.star,
      items: chunk.items,
      ...(worker.known.has(fn.id) ? {} : { spec: fn.spec }),
    };
    try {
      worker.inbox.putSync(pack(message, 'items'));
    } catch (error) {
      // An argument that does not clone (TypeError): that chunk fails, nothing was put.
      chunk.job.failed(chunk.index, withHint(error));
      return;
    }
    worker.known.add(fn.id);
    worker.out.set(chunk.id, chunk);
    this.#out++;
    if (++worker.sent === this.#options.maxtasksperchild) {
      worker.stopped = true;
      worker.inbox.putSync(null);
    }
  }

  /**
   * An idle worker takes a task still waiting in a busy worker's inbox. Every waiting message is taken back (the
   * `get` either gets one or the busy worker already has it), the first goes to the idle worker and the others
   * back to the busy one: a function's spec travels with the first message of that function a worker gets, and
   * that message may be the one taken.
   */
  #steal(): void {
    for (const idle of this.#workers) {
      if (idle.out.size > 0 || !idle.ready || !this.#canTake(idle)) continue;
      for (const busy of this.#workers) {
        if (busy === idle || busy.out.size < 2 || busy.stopped || busy.exited) continue;
        const waiting = takeNowait(busy.inbox, Number.POSITIVE_INFINITY);
        if (waiting.length === 0) continue;
        const chunks = waiting.map((wire) => {
          const message = unpack(wire);
          const chunk = message && busy.out.get(message.id);
          invariant(chunk, 'a pool inbox held a task the pool did not send there');
          if (message.spec) busy.known.delete(message.fn);
          busy.out.delete(chunk.id);
          return chunk;
        });
        this.#out -= chunks.length;
        busy.sent -= chunks.length;
        this.#send(idle, chunks[0]!);
        for (const chunk of chunks.slice(1)) this.#send(busy, chunk);
        break;
      }
    }
  }

  #ensurePump(): void {
    if (this.#pumping || !this.#needsPump()) return;
    this.#pumping = true;
    // Started from a microtask: the pump dispatches, and dispatch() may be what asked for it.
    queueMicrotask(() => void this.#pump());
  }

  #needsPump(): boolean {
    if (this.#state === 'terminate') return false;
    if (this.#out > 0 || this.#exits.length > 0) return true;
    // A worker that reached maxtasksperchild is on its way out, and work may wait for its replacement: watch for
    // its exit (it comes soon: the worker has nothing left to do).
    return (
      this.#workers.some((worker) => worker.stopped && !worker.exited) &&
      (this.#state === 'run' || this.#hasWork())
    );
  }

  async #pump(): Promise<void> {
    try {
      while (this.#needsPump()) {
        for (const worker of this.#workers) if (!worker.watching) void this.#watch(worker);
        if (this.#exits.length === 0) {
          // One controller serves many waits, until it is used.
          if (this.#wake === undefined || this.#wake.signal.aborted) this.#wake = new AbortController();
          let batch: ResultWire[] = [];
          try {
            batch = await this.#results.getMany(RESULT_BATCH, { signal: this.#wake.signal });
          } catch (error) {
            if ((error as Error)?.name !== 'AbortError') throw error;
          }
          if (this.#state === 'terminate') break;
          for (const message of batch) this.#onMessage(message);
        }
        if (this.#exits.length > 0) this.#handleExits();
        this.#dispatch();
      }
    } catch (error) {
      this.#break(error);
    } finally {
      this.#pumping = false;
    }
  }

  /** Waits (while the pump runs) for the worker's exit, then hands it to the pump. */
  async #watch(worker: Worker): Promise<void> {
    worker.watching = true;
    try {
      while (worker.process.exitCode === null && this.#pumping && this.#state !== 'terminate') {
        await worker.process.join(WATCH_MS);
      }
    } finally {
      worker.watching = false;
    }
    this.#noticeExit(worker);
  }

  #noticeExit(worker: Worker): void {
    if (worker.exited || worker.process.exitCode === null || this.#state === 'terminate') return;
    if (this.#workers[worker.slot] !== worker) return;
    worker.exited = true;
    this.#exits.push(worker);
    this.#wake?.abort();
    this.#ensurePump();
  }

  #onMessage(wire: ResultWire): void {
    const message: ResultMessage = unpack(wire);
    const worker = this.#bySerial.get(message.worker);
    if (worker === undefined) return;
    switch (message.kind) {
      case 'ready':
        worker.ready = true;
        return;
      case 'init-failed': {
        const error = unpackError(message.error);
        this.#break(
          new ProcessError(
            `the pool's initializer failed in ${worker.process.name}: ${(error as Error)?.message ?? String(error)}`,
            { cause: error },
          ),
        );
        return;
      }
      case 'done':
      case 'failed': {
        const chunk = worker.out.get(message.id);
        if (chunk === undefined) return;
        worker.out.delete(message.id);
        this.#out--;
        if (message.kind === 'done') chunk.job.done(chunk.index, message.values);
        else chunk.job.failed(chunk.index, unpackError(message.error));
      }
    }
  }

  /**
   * For each ended worker: its untaken tasks go to others, the one it had taken fails, and a replacement starts
   * in its place (unless the pool is closed with nothing left to do). Results it put before it ended are read
   * first, so a task that did finish is never failed.
   */
  #handleExits(): void {
    for (let batch = takeNowait(this.#results, RESULT_BATCH); batch.length > 0; ) {
      for (const message of batch) this.#onMessage(message);
      batch = takeNowait(this.#results, RESULT_BATCH);
    }
    for (const worker of this.#exits.splice(0)) {
      if (this.#state === 'terminate') return;
      this.#bySerial.delete(worker.serial);
      const untaken = takeNowait(worker.inbox, Number.POSITIVE_INFINITY); // a stop message (null) goes too
      for (const wire of untaken) {
        const message = unpack(wire);
        const chunk = message && worker.out.get(message.id);
        if (!chunk) continue;
        worker.out.delete(chunk.id);
        this.#out--;
        this.#retry.push(chunk);
      }
      const code = worker.process.exitCode!;
      if (!worker.ready && code > 0) {
        this.#break(
          new ProcessError(
            `a pool worker could not start: ${worker.process.name} exited with code ${code} before running any task (its stderr says why)`,
          ),
        );
        return;
      }
      const replace = this.#state === 'run' || this.#hasWork();
      for (const chunk of worker.out.values())
        chunk.job.failed(chunk.index, diedError(worker, code, replace));
      this.#out -= worker.out.size;
      worker.out.clear();
      if (replace) this.#startWorker(worker.slot, worker.inbox);
    }
  }

  #break(error: unknown): void {
    if (this.#broken === undefined) this.#broken = error;
    this.terminate(this.#broken);
  }
}

/** Up to `max` items from `queue` without waiting (none when it is empty). */
function takeNowait<T>(queue: Queue<T>, max: number): T[] {
  const out: T[] = [];
  while (out.length < max) {
    try {
      out.push(...queue.getManySync(Math.min(max - out.length, RESULT_BATCH), { block: false }));
    } catch (error) {
      if (error instanceof Empty) break;
      throw error;
    }
  }
  return out;
}

/** A thread-only procq object (no native addon) cannot go in a task; it can go in `initargs`. */
function withHint(error: unknown): unknown {
  if (!(error instanceof TypeError) || !/thread-only/.test(error.message)) return error;
  return new TypeError(
    `${error.message}; or give it to the workers once, in the pool's \`initargs\` (they reach thread workers whole)`,
    { cause: error },
  );
}

function diedError(worker: Worker, code: number, replaced: boolean): ProcessError {
  const signal = Object.entries(constants.signals).find(([, n]) => n === -code)?.[0];
  const how = code < 0 ? `was killed by ${signal ?? `signal ${-code}`}` : `exited with code ${code}`;
  const where =
    worker.process.startMethod === 'thread'
      ? `thread ${worker.process.threadId}`
      : `pid ${worker.process.pid}`;
  return new ProcessError(
    `the pool worker ${worker.process.name} (${where}) ${how} while running this task${replaced ? '; a new worker takes its place' : ''}`,
  );
}
