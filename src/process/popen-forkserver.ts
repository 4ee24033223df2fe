/**
 * `startMethod: 'forkserver'` (after CPython's `popen_forkserver.py`): `Process.start()` hands the child to a
 * warm interpreter, a Node process started ahead of time that has already loaded procq and the native addon and
 * waits, idle, on its fd 3 pipe (`bootstrap-forkserver.ts`). Start to first item is then the child's import of
 * the target's module plus one pipe write, instead of a whole Node start-up.
 *
 * Node cannot `fork()` (V8's helper threads do not survive it), so the "server" is this module: a small set of
 * warm children of this process, refilled in the background after each start.
 *
 * A started child sees what a spawned one would (unlike CPython's forkserver, whose children inherit the server's
 * state): the parent's environment and working directory at `start()` travel in the start frame and are taken on
 * before the target's module is imported; a warm child whose Node was started with other flags than a spawned
 * child would get now (`execArgv`, `NODE_OPTIONS`, `execPath`) is discarded instead of used. Warm children are
 * spawned after this process's resource tracker is running, so that the segments they create belong to this
 * process's tree, as a spawned child's do.
 *
 * - Warmth: `WARM` children are kept ready once the method is first used (or `setStartMethod('forkserver')`);
 *   when starts come faster than children warm up, the set grows, up to `MAX_WARM`. A program that is about to
 *   start several processes at once (a farm, a `Pool`) asks for them ahead with `warmForkserver(n)` (Python's
 *   `set_forkserver_preload` is the nearest thing there): n are kept ready from then on.
 * - Idle cost: an idle warm child sleeps in its event loop (no timer, no polling), about 40 MB of memory.
 * - Recovery: a warm child that dies while idle (killed by someone) is dropped and replaced; one that was taken
 *   is an ordinary child, whose exit code says how it ended.
 * - No orphans: warm children are killed when this process exits, and guard themselves as spawned children do
 *   (parent-death signal, EOF on fd 3).
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import os from 'node:os';
import { abortErrorFrom } from '../errors.js';
import { trackerToken } from '../memory/tracker.js';
import type { Popen, PopenOptions } from './popen.js';
import { childExecArgv, SpawnPopen, spawnBootstrap } from './popen-spawn.js';

/** Warm children kept ready at first. */
const WARM = 1;
/**
 * At most this many warm children (a farm often starts more processes than there are cores): starts that outrun
 * them wait for the next to come up.
 */
const MAX_WARM = Math.max(4, Math.min(16, os.availableParallelism?.() ?? os.cpus().length));

interface Warm {
  readonly child: ChildProcess;
  /** How its Node was started (`startupKey()` then): it may serve a start only while that is still the same. */
  readonly startup: string;
  /** This process's environment when the child was spawned: the child's own, until a start changes it. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pipe: Socket;
  /** It practises the queue's paths before it says it is ready (bootstrap-forkserver.ts). */
  readonly practised: boolean;
  /** The child has loaded everything and said so (one byte on fd 3). */
  ready: boolean;
  /** Resolves once `ready` (or the child died). */
  readonly readyPromise: Promise<void>;
}

const pool: Warm[] = [];
let target = WARM;
/**
 * Warm children started from now on practise (`warmForkserver(n)` asked for them, for work in several processes).
 * The one kept by default does not: practice costs its start to first item ~8 ms (p50 ~8 -> ~18 ms at load ~8),
 * spent before the target's module is imported (cause not found: the target's entry comes later, the put as fast).
 */
let practise = false;
let exitHook = false;

function alive(w: Warm): boolean {
  return w.child.exitCode === null && w.child.signalCode === null;
}

/** What a Node process started now would be started with, besides the environment the start frame carries. */
function startupKey(): string {
  return JSON.stringify([process.execPath, childExecArgv(), process.env.NODE_OPTIONS ?? null]);
}

function spawnWarm(): Warm {
  // The tracker first: the child then inherits its pipe, as a child spawned after the first segment does.
  trackerToken();
  const startup = startupKey();
  const env = { ...process.env };
  const child = spawnBootstrap('bootstrap-forkserver', practise ? ['--practise'] : []);
  const pipe = child.stdio[3] as Socket;
  pipe.on('error', () => {}); // the child died: its exit tells the story
  let resolveReady!: () => void;
  const w: Warm = {
    child,
    practised: practise,
    startup,
    env,
    pipe,
    ready: false,
    readyPromise: new Promise((r) => (resolveReady = r)),
  };
  pipe.once('data', () => {
    w.ready = true;
    resolveReady();
  });
  child.once('exit', () => {
    resolveReady();
    const at = pool.indexOf(w);
    if (at >= 0) {
      // Died while idle: drop it and warm another in its place.
      pool.splice(at, 1);
      refillAfter(REFILL_DELAY_MS);
    }
  });
  // An idle warm child must not keep this process alive.
  child.unref();
  pipe.unref();
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const p of pool) if (alive(p)) p.child.kill('SIGKILL');
      pool.length = 0;
    });
  }
  return w;
}

/** A warm child that died while idle is replaced this long after. */
const REFILL_DELAY_MS = 25;

/**
 * After a start, the warm set is refilled once the started child has exited, or this long after the start
 * (after the child is up, for one taken while still booting), whichever comes first. Spawning a Node process
 * blocks this thread for the fork and exec of a large process (a few milliseconds quiet, tens under load), and
 * this thread is the one awaiting the started child's first item: a refill in that window delays the wake-up by
 * as much. (Profiled under `bench --load 2`: with the refill 25 ms after the start, the parent's `get` woke 25-67
 * ms after the child's put.) And a warm-up is a Node start-up, 100-200 ms of CPU: refilling 250 ms after the
 * starts of a 2x2 job farm put four of them beside the farm's own processes on this 2-core machine, and the farm
 * took 20-45% longer (0.79-1.13 s with the refill 5 s after, 1.01-1.96 s with it 250 ms after, alternating runs).
 * A program that starts its processes one second apart or more finds them warm again.
 */
const REFILL_AFTER_START_MS = 1000;

let refillTimer: NodeJS.Timeout | undefined;
let refillDue = 0;

/** Brings the warm set back to `target` in `ms` at the latest (unref'd: never keeps this process alive). */
function refillAfter(ms: number): void {
  const due = Date.now() + ms;
  if (refillTimer !== undefined) {
    if (refillDue <= due) return; // an earlier refill is already coming
    clearTimeout(refillTimer);
  }
  refillDue = due;
  refillTimer = setTimeout(() => {
    refillTimer = undefined;
    refillOneByOne();
  }, ms).unref();
}

/**
 * Warms the missing children one after another, each once the previous is up: at most one core goes to warming
 * while the program's own processes run, and the first one is ready soonest.
 */
function refillOneByOne(generation = stops): void {
  if (pool.length >= target || generation !== stops) return;
  const w = spawnWarm();
  pool.push(w);
  void w.readyPromise.then(() => refillOneByOne(generation));
}

/** How many times `stopForkserver()` ran: a refill begun before a stop does not go on after it. */
let stops = 0;

/** The next warm child: a ready one if any, else the one closest to ready, else a fresh one. */
function take(): Warm {
  const startup = startupKey();
  for (let i = pool.length - 1; i >= 0; i--) {
    const w = pool[i]!;
    if (alive(w) && w.startup === startup) continue;
    pool.splice(i, 1);
    if (alive(w)) w.child.kill('SIGKILL'); // started with other flags than a child would be now
  }
  let at = pool.findIndex((w) => w.ready);
  if (at < 0) {
    // Starts outrun warm-ups: keep more ready from now on. Not when none is warming (a program's first, cold,
    // starts, the workers of a first Pool): those would leave as many idle Node processes behind as they started.
    if (pool.length > 0) target = Math.min(MAX_WARM, target + 1);
    at = pool.length ? 0 : -1;
  }
  const w = at >= 0 ? pool.splice(at, 1)[0]! : spawnWarm();
  // A child taken before it was ready is still booting: its replacement waits until it is up, as a replacement
  // booting beside it would take half the cores from it (a program's first, cold, start included).
  void w.readyPromise.then(() => refillAfter(REFILL_AFTER_START_MS));
  w.child.once('exit', () => refillAfter(0));
  return w;
}

/** Keeps `count` warm children from now on (at most `MAX_WARM`), starting the missing ones now. */
export function keepWarm(count = WARM): void {
  target = Math.max(target, Math.min(MAX_WARM, count));
  while (pool.length < target) pool.push(spawnWarm());
}

/** The most warm children `warmForkserver()` keeps (a farm often starts more processes than there are cores). */
export const MAX_FORKSERVER_WARM = MAX_WARM;

/**
 * Resolves once `count` warm children are ready (at most `MAX_WARM`; starting them if need be); the set is kept
 * at that size from then on. Behind the public `warmForkserver()` (start-method.ts), which checks its arguments.
 */
export async function forkserverReady(
  count = 1,
  signal?: AbortSignal,
  practised: boolean = practise,
): Promise<void> {
  const want = Math.min(MAX_WARM, Math.max(1, count));
  if (practised !== practise) {
    // Ready ones of the other kind give way to ones of the kind asked for.
    practise = practised;
    for (let i = pool.length - 1; i >= 0; i--) {
      const w = pool[i]!;
      if (w.practised === practised) continue;
      pool.splice(i, 1);
      if (alive(w)) w.child.kill('SIGKILL');
    }
  }
  const hold = setInterval(() => {}, 1 << 30); // warm children are unref'd: keep the loop while waiting
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    for (;;) {
      keepWarm(want);
      const ready = pool.filter((w) => w.ready && alive(w)).length;
      if (ready >= want) return;
      if (signal?.aborted) throw abortErrorFrom(signal);
      const warming = pool.filter((w) => !w.ready).map((w) => w.readyPromise);
      // None warming: a ready one has just died, and its replacement comes after its exit event.
      await Promise.race([
        aborted,
        warming.length ? Promise.race(warming) : new Promise((resolve) => setTimeout(resolve, 20)),
      ]);
    }
  } finally {
    clearInterval(hold);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** The pids of the idle warm children (they are this process's children too). For tests. */
export function forkserverPids(): number[] {
  return pool.filter(alive).map((w) => w.child.pid ?? -1);
}

/** Ends every idle warm child (they come back on the next start). */
export function stopForkserver(): void {
  stops++;
  clearTimeout(refillTimer);
  refillTimer = undefined;
  for (const w of pool.splice(0)) if (alive(w)) w.child.kill('SIGKILL');
  target = WARM;
  practise = false;
}

export class ForkserverPopen extends SpawnPopen implements Popen {
  constructor(options: PopenOptions) {
    // A child taken before it was ready still says so ('R' on fd 3): that is when its replacement starts warming.
    const w = take();
    // A taken child is an ordinary child: it keeps this process alive unless the Process is a daemon (unref()).
    w.child.ref();
    super(options, w.child, { ...envChanges(w.env), cwd: process.cwd() });
  }
}

/** How this process's environment now differs from `then` (what a warm child spawned then has). */
function envChanges(then: Readonly<Record<string, string | undefined>>): {
  envSet?: Record<string, string>;
  envUnset?: string[];
} {
  const now = process.env;
  let envSet: Record<string, string> | undefined;
  let envUnset: string[] | undefined;
  for (const name of Object.keys(now)) {
    const value = now[name];
    if (value !== undefined && value !== then[name]) (envSet ??= {})[name] = value;
  }
  for (const name of Object.keys(then)) if (!(name in now)) (envUnset ??= []).push(name);
  return { ...(envSet && { envSet }), ...(envUnset && { envUnset }) };
}
