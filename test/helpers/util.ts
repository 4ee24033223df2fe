// Small helpers shared by the queue test files.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { activeChildren } from '../../src/index.js';
import { forkserverPids, stopForkserver } from '../../src/process/popen-forkserver.js';
import { DEFAULT_START_METHOD } from '../../src/process/start-method.js';

/** Multiplies the stress sizes: `PROCQ_STRESS=10 npm test` for a longer run. Default 1 (well under a minute). */
export const STRESS = Math.max(1, Number(process.env.PROCQ_STRESS ?? 1) || 1);
export const scaled = (n: number): number => Math.round(n * STRESS);

/**
 * The start method of the OS-process children in the contract and chaos suites (queue, chaos, harden, pool, sync,
 * pipe, shared memory, nondaemon, connection, manager): `PROCQ_TEST_PROCESS_METHOD=spawn` or `forkserver`.
 * Default: procq's own default (`'forkserver'` on Linux, `'spawn'` elsewhere). Tests about one start method in
 * particular name it themselves; the Process suite runs every start method.
 */
export const PROCESS_METHOD: 'spawn' | 'forkserver' =
  process.env.PROCQ_TEST_PROCESS_METHOD === 'spawn' || process.env.PROCQ_TEST_PROCESS_METHOD === 'forkserver'
    ? process.env.PROCQ_TEST_PROCESS_METHOD
    : DEFAULT_START_METHOD === 'forkserver'
      ? 'forkserver'
      : 'spawn';

/** The compiled fixture `name` (e.g. 'queue-seed-2.js'). */
export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export const ms = (since: number): number => performance.now() - since;

/** The rejection (or throw) of `fn`, asserting it does not throw synchronously when `async` is set. */
export async function errorOf(fn: () => unknown): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

/** Asserts `call()` returns a Promise (never throws synchronously) and that it rejects with `ctor`. */
export async function rejectsAsync(call: () => Promise<unknown>, ctor: Function, what = ''): Promise<any> {
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    p = call();
  }, `an async form threw synchronously ${what}`);
  assert.ok(p instanceof Promise, `an async form returned no Promise ${what}`);
  const err = await errorOf(() => p);
  assert.ok(err instanceof ctor, `expected ${ctor.name} ${what}, got ${err?.name}: ${err?.message}`);
  return err;
}

/** A macrotask later: lets pending wake-ups and abort listeners run. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Fails (and cleans up) when a test left a Process child or worker running. */
export async function noChildrenLeft(): Promise<void> {
  const left = activeChildren();
  for (const p of left) p.kill();
  await Promise.all(left.map((p) => p.join()));
  assert.deepEqual(
    left.map((p) => p.name),
    [],
    'a test left children running',
  );
}

export interface RunResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  pid: number | undefined;
  ms: number;
}

/** Runs `node <script> ...args` to completion (killed after `timeout` ms) and returns its output. */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  timeout = 20_000,
): Promise<RunResult> {
  const start = performance.now();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [script, ...args],
      { env: { ...process.env, ...env }, timeout, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        resolve({
          status: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
          pid: child.pid,
          ms: ms(start),
        });
      },
    );
  });
}

/** A child started by `runModuleChild`: its pid, and its exit code and whole output once it has closed. */
export interface ModuleChild {
  done: Promise<{ code: number | null; out: string; err: string }>;
  pid: number;
}

/**
 * Runs `node <execArgv> --input-type=module -e <src>` with `env` added to this process's environment, collecting its
 * stdout and stderr. `launcher` goes before node (e.g. `['ip', 'netns', 'exec', ns]`).
 */
export function runModuleChild(
  src: string,
  options: { env?: Record<string, string>; execArgv?: string[]; launcher?: string[] } = {},
): ModuleChild {
  const [command, ...before] = [...(options.launcher ?? []), process.execPath];
  const p = spawn(command!, [...before, ...(options.execArgv ?? []), '--input-type=module', '-e', src], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => {
    out += d;
  });
  p.stderr.on('data', (d) => {
    err += d;
  });
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    p.on('close', (code) => resolve({ code, out, err }));
  });
  return { done, pid: p.pid! };
}

/** procq segments in /dev/shm created by process `pid`: none may be left once it has exited. */
export function segmentsOf(pid: number | undefined): string[] {
  if (pid === undefined) return [];
  try {
    return readdirSync('/dev/shm').filter((name) => name.startsWith(`procq-${pid}-`));
  } catch {
    return [];
  }
}

/** Whether process `pid` is procq's resource tracker (src/memory/tracker.ts): it lives as long as this process. */
function isTracker(pid: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('procq-tracker\0');
  } catch {
    return false;
  }
}

/**
 * This process's child processes that are still running (zombies, already ended, do not count). The forkserver's
 * idle warm children are ready interpreters, not children a test started: they count only with `warm: true`.
 */
export function runningChildPids({ warm = false }: { warm?: boolean } = {}): number[] {
  const idle = warm ? new Set<number>() : new Set(forkserverPids());
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (
        Number(fields[1]) === process.pid &&
        fields[0] !== 'Z' &&
        !isTracker(entry) &&
        !idle.has(Number(entry))
      )
        out.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

const NS_LAST_PID = '/proc/sys/kernel/ns_last_pid';

/** Whether this process may steer the next pid (root, and a writable ns_last_pid): pid-reuse tests need it. */
export function canSteerPids(): boolean {
  try {
    writeFileSync(NS_LAST_PID, readFileSync(NS_LAST_PID, 'latin1').trim());
    return true;
  } catch {
    return false;
  }
}

/** The skip reason of a pid-reuse test where pids cannot be steered, else false. */
export const noPidSteering = (): string | false =>
  canSteerPids() ? false : `needs root to steer pids through ${NS_LAST_PID} (skipped: not allowed here)`;

/** Starts an unrelated process (`sleep 30`) with pid `pid`, through ns_last_pid: a dead process's pid reused. */
export async function occupy(pid: number): Promise<ChildProcess> {
  // No process (or thread) of ours may start meanwhile: a forkserver replacement booting would take the pid. The
  // warm set (and its pending refill) ends here, and comes back on the next start.
  stopForkserver();
  for (let i = 0; i < 200; i++) {
    writeFileSync(NS_LAST_PID, String(pid - 1));
    const s = spawn('sleep', ['30'], { stdio: 'ignore' });
    if (s.pid === pid) return s;
    s.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.fail(`could not start a process with pid ${pid}`);
}
