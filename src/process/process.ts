/**
 * `Process`: runs a function in a worker thread or in another OS process, as Python's `multiprocessing.Process`.
 *
 * ```ts
 * // worker.ts: one file, as in Python; the parent's code is guarded like `if __name__ == "__main__":`.
 * import { Process, isMainProcess } from 'procq';
 *
 * export function greet(who: string) {
 *   console.log(`hello, ${who}`);
 * }
 *
 * if (isMainProcess()) {
 *   const p = new Process({ target: greet, args: ['world'] });
 *   p.start();
 *   await p.join();
 *   console.log(p.exitCode); // 0
 * }
 * ```
 *
 * The child imports the module that exports the target (without `module`: the file that called `new Process`),
 * so that module's top level runs again in the child, where `isMainProcess()` is false.
 *
 * When the child ends (Python's rule): after its target returns (exit code 0) or throws (1), the child waits for
 * the non-daemon work the target started, then exits, leaving daemon work and anything else (timers, sockets)
 * behind. Non-daemon work is a procq `Process` with `daemon: false`, a worker thread (`new Worker`), or a child
 * process (`child_process.spawn` …), unless it was made a daemon (`daemon: true`; `worker.unref()`,
 * `child.unref()`). So `exitCode` is set, and `join()` resolves, only once that work is done too.
 */

import { encodeValue } from '../codec/index.js';
import { ProcessError } from '../errors.js';
import { sweepSegments } from '../memory/shm-segment.js';
import { checkTimeout, describe } from '../options.js';
import { currentProcess, isBootstrapping, nextChildIdentity, type StartMethod } from './current.js';
import { descendantsOf, waitExitedSync } from './exit-sync.js';
import type { Popen } from './popen.js';
import { ForkserverPopen } from './popen-forkserver.js';
import { SpawnPopen } from './popen-spawn.js';
import { ThreadPopen } from './popen-thread.js';
import { handleTypesOf } from './revivers.js';
import { checkStartMethod, getStartMethod } from './start-method.js';
import { callerModuleUrl, resolveTarget } from './target.js';

/** What a `Process` may run: a function, or (with `module`) an export's name. */
export type Target = ((...args: any[]) => unknown) | Function | string;

/**
 * The `args` a target takes: its parameters when it is a function with a visible signature, else any array.
 * So `new Process({ target: greet, args: [42] })` fails to compile when `greet` takes a string.
 */
export type TargetArgs<F> = F extends (...args: infer A) => unknown ? Readonly<A> : readonly unknown[];

/**
 * The options of `new Process`. `args` is checked against the target's parameters when `target` is a function,
 * and is required when the target has a required parameter (a target of no arguments may omit it).
 */
export type ProcessOptions<F extends Target = Target> = ProcessBaseOptions<F> & ArgsOption<F>;

type ArgsOption<F> = F extends (...args: infer A) => unknown
  ? [] extends A
    ? { args?: Readonly<A> }
    : {
        /** Arguments for `target` (cloned like queue items; procq handles among them arrive usable). */
        args: Readonly<A>;
      }
  : { args?: readonly unknown[] };

export interface ProcessBaseOptions<F extends Target = Target> {
  /**
   * The function the child runs: a function exported from an ES module (without `module`, from the module that
   * calls `new Process`), or, with `module`, the name of one of that module's exports. Async functions are awaited.
   */
  target: F;
  /**
   * Arguments for `target`, cloned like queue items; procq handles among them arrive usable. Type-checked against
   * the target's parameters when `target` is a function. @default []
   */
  args?: TargetArgs<F> | undefined;
  /** @default `Process-N`, numbered per parent from 1 (a child's children are `Process-N:M`) */
  name?: string;
  /**
   * Daemon children are ended when their parent exits; others are waited for (by a parent that is itself a child
   * too, once its target is done). @default the parent's own flag
   */
  daemon?: boolean;
  /**
   * @default the current default: `setStartMethod()`, else `PROCQ_START_METHOD`, else `'forkserver'` on Linux
   * and `'spawn'` elsewhere
   */
  startMethod?: StartMethod;
  /** The module that exports `target`: a path (relative to the working directory) or a `file:` URL. */
  module?: string | URL;
}

const live = new Set<Process>();
const liveSpawned = new Map<Popen, boolean>(); // popen → daemon
let exitHookInstalled = false;

/** Python's `atexit` rule for spawned children: daemons are terminated, the others are waited for. */
function onParentExit(): void {
  // A terminated daemon runs no exit cleanup, and its own children die with it (parent-death signal): note the whole
  // tree before ending it, so that its shared memory can be removed once it is gone.
  const daemonTree: number[] = [];
  for (const [popen, daemon] of liveSpawned) {
    if (daemon && popen.exitCode === null) daemonTree.push(popen.pid, ...descendantsOf(popen.pid));
  }
  for (const [popen, daemon] of liveSpawned) if (daemon) popen.terminate();
  for (const [popen, daemon] of liveSpawned)
    if (!daemon && popen.exitCode === null) waitExitedSync(popen.pid);
  const deadline = performance.now() + DAEMON_EXIT_WAIT_MS;
  for (const pid of daemonTree) {
    if (waitExitedSync(pid, Math.max(0, deadline - performance.now()))) sweepSegments({ pid });
  }
}

/** How long a parent's exit waits for its terminated daemons, to clean up after them. */
const DAEMON_EXIT_WAIT_MS = 500;

/**
 * A child (a worker thread or an OS process) running `target(...args)`. The type parameter is the target's type,
 * inferred from `new Process({ target, args })` so that `args` is checked against it; it never needs writing
 * (`Process` alone is any process).
 */
export class Process<F extends Target = Target> {
  readonly #target: unknown;
  readonly #args: readonly unknown[];
  readonly #module: string | URL | undefined;
  readonly #callerUrl: string | undefined;
  readonly #startMethod: StartMethod;
  readonly #identity: number[];
  #name: string;
  #daemon: boolean;
  #popen: Popen | undefined;
  #closed = false;

  constructor(options: ProcessOptions<F>) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Expected \`options\` to be an object with a \`target\`, got ${describe(options)}`);
    }
    const { target, args = [], name, daemon, startMethod, module } = options;
    if (!Array.isArray(args)) throw new TypeError(`Expected \`args\` to be an array, got ${describe(args)}`);
    if (name !== undefined && typeof name !== 'string') {
      throw new TypeError(`Expected \`name\` to be a string, got ${describe(name)}`);
    }
    if (daemon !== undefined && typeof daemon !== 'boolean') {
      throw new TypeError(`Expected \`daemon\` to be a boolean, got ${describe(daemon)}`);
    }
    this.#target = target;
    this.#args = args;
    this.#module = module;
    this.#startMethod = startMethod === undefined ? getStartMethod() : checkStartMethod(startMethod);
    this.#identity = nextChildIdentity();
    this.#name = name ?? `Process-${this.#identity.join(':')}`;
    this.#daemon = daemon ?? currentProcess().daemon;
    this.#callerUrl = module === undefined ? callerModuleUrl(new.target) : undefined;
  }

  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    if (typeof value !== 'string')
      throw new TypeError(`Expected \`name\` to be a string, got ${describe(value)}`);
    this.#name = value;
  }

  /** Settable before `start()` only. */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (typeof value !== 'boolean')
      throw new TypeError(`Expected \`daemon\` to be a boolean, got ${describe(value)}`);
    if (this.#popen) throw new ProcessError('cannot set `daemon` on a process that has been started');
    this.#daemon = value;
  }

  get startMethod(): StartMethod {
    return this.#startMethod;
  }

  /** The child's OS process id (in thread mode, this process's own); `undefined` before `start()`. */
  get pid(): number | undefined {
    return this.#popen?.pid;
  }

  /** The worker's thread id in thread mode; `undefined` otherwise and before `start()`. */
  get threadId(): number | undefined {
    return this.#popen?.threadId;
  }

  /**
   * `null` before `start()` and while the child runs; then `0` (returned), `1` (threw, or its target could not be
   * found), `n` (`process.exit(n)`), or `-N` when ended by signal N (`terminate()`: -15, `kill()`: -9, in both
   * start methods). Set only once the child's output has reached this process's stdout and stderr.
   */
  get exitCode(): number | null {
    return this.#popen?.exitCode ?? null;
  }

  /**
   * Starts the child. Throws `ProcessError` when started twice, or when the target visibly cannot be resolved
   * (the message says what to export); `TypeError` for a wrong `target` or arguments that cannot be cloned.
   */
  start(): void {
    this.#checkOpen();
    if (this.#popen) throw new ProcessError(`cannot start a process twice (${this.#name})`);
    if (isBootstrapping()) {
      // CPython's spawn raises the same error for the same mistake.
      throw new ProcessError(
        `An attempt has been made to start a new process (${this.#name}) before the current process has finished its bootstrapping phase: this child is still importing its target's module, whose top level starts processes. Guard the parent's code in that module with \`if (isMainProcess()) { … }\` (Python's \`if __name__ == "__main__":\`), or every child would start children of its own.`,
      );
    }
    const target = resolveTarget(this.#target, this.#module, this.#callerUrl);
    const args = encodeValue(this.#args);
    const method = this.#startMethod;
    if (method !== 'thread' && args.sabs.length > 0) {
      throw new ProcessError(
        `cannot pass the arguments of ${this.#name} to another OS process: they hold thread-only shared memory (a SharedArrayBuffer, or a procq object created without the native addon); use startMethod: 'thread', or build the native addon`,
      );
    }
    const me = currentProcess();
    const spec = {
      target,
      self: {
        name: this.#name,
        identity: this.#identity,
        daemon: this.#daemon,
        startMethod: method,
        parent: { name: me.name, pid: me.pid, threadId: me.threadId },
      },
      argv: process.argv.slice(1),
      ...(args.handles ? { handleTypes: handleTypesOf(this.#args) } : {}),
    };
    const popen: Popen =
      method === 'thread'
        ? new ThreadPopen({ spec, args })
        : method === 'forkserver'
          ? new ForkserverPopen({ spec, args })
          : new SpawnPopen({ spec, args });
    this.#popen = popen;
    if (this.#daemon) popen.unref();
    live.add(this);
    if (method !== 'thread') {
      liveSpawned.set(popen, this.#daemon);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', onParentExit);
      }
    }
    void popen.exited.then(() => {
      live.delete(this);
      liveSpawned.delete(popen);
    });
  }

  /**
   * Waits until the child has ended, or `timeout` ms have passed (then check `isAlive()` or `exitCode`);
   * `undefined`/`null`/`Infinity` waits as long as it takes, a negative timeout is 0 (Python's rule, as everywhere
   * in procq). Rejects with `ProcessError` before `start()`, `RangeError`/`TypeError` for a bad timeout. Keeps the event
   * loop alive while it waits, even for a daemon child. Abort safety: giving up the wait leaves the child running.
   */
  async join(timeout?: number | null): Promise<void> {
    this.#checkOpen();
    const ms = checkTimeout(timeout);
    const popen = this.#popen;
    if (!popen) throw new ProcessError(`cannot join a process that has not been started (${this.#name})`);
    if (popen.exitCode !== null) return;
    let timer: NodeJS.Timeout | undefined;
    const waits: Promise<unknown>[] = [popen.exited];
    if (ms === Number.POSITIVE_INFINITY) {
      timer = setInterval(() => {}, 1 << 30); // a daemon child is unref'd: hold the loop open meanwhile
    } else {
      waits.push(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))));
    }
    try {
      await Promise.race(waits);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `true` from `start()` until the child has ended (and its output has been flushed). */
  isAlive(): boolean {
    this.#checkOpen();
    return this.#popen !== undefined && this.#popen.exitCode === null;
  }

  /** Sends SIGTERM (thread mode: stops the worker); `exitCode` becomes -15. No-op once the child has ended. */
  terminate(): void {
    this.#started('terminate').terminate();
  }

  /** Sends SIGKILL (thread mode: stops the worker); `exitCode` becomes -9. No-op once the child has ended. */
  kill(): void {
    this.#started('kill').kill();
  }

  /** Releases this object; most methods throw afterwards. Throws while the child is still running. */
  close(): void {
    if (this.#popen && this.#popen.exitCode === null) {
      throw new ProcessError(
        `cannot close ${this.#name} while it is still running: join() or terminate() it first`,
      );
    }
    this.#closed = true;
  }

  /** @internal for `wait()`: settles once the child has ended; `undefined` before `start()`. */
  _whenEnded(): Promise<unknown> | undefined {
    return this.#popen?.exited;
  }

  #started(what: string): Popen {
    this.#checkOpen();
    if (!this.#popen)
      throw new ProcessError(`cannot ${what} a process that has not been started (${this.#name})`);
    return this.#popen;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ProcessError(`${this.#name} is closed: it cannot be used after close()`);
  }

  get [Symbol.toStringTag](): string {
    return 'Process';
  }
}

/** The children this thread started that are still running (Python's `active_children()`). */
export function activeChildren(): Process[] {
  return [...live];
}
