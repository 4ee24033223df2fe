/**
 * The part of a child's start-up both bootstraps share: record who we are, import the target's module, find the
 * export, call it with the arguments, and exit with Python's exit codes (0 on return, 1 on a throw, with the error
 * printed to stderr like a traceback), once the non-daemon work the target started is done (nondaemon.ts). Kept
 * free of heavy imports: it runs before every child's first line.
 */
import { inspect } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { decodeValue, type Wire } from '../codec/index.js';
import { loadNative } from '../native/index.js';
import { type ChildIdentity, setBootstrapping, setChildIdentity } from './current.js';
import { nonDaemonWorkDone, trackWorkers } from './nondaemon.js';
import { loadRevivers } from './revivers.js';
import type { TargetSpec } from './target.js';

/** Everything a child receives besides its arguments. JSON-safe (spawn sends it as JSON). */
export interface ChildSpec {
  readonly target: TargetSpec;
  readonly self: ChildIdentity;
  /** The parent's `process.argv.slice(1)`: the child sees the same script and arguments (as CPython's spawn). */
  readonly argv: readonly string[];
  /**
   * The types of the procq handles among the arguments (revivers.ts), so that the child loads only their modules;
   * absent: load the package root.
   */
  readonly handleTypes?: readonly string[];
}

function fail(name: string, message: string): never {
  process.stderr.write(`Process ${name}: ${message}\n`);
  exitChild(1);
}

/**
 * `process.exit(code)` as Python's child does it (`os._exit` after its own clean-up): the `'exit'` handlers run,
 * then the process ends at once. Node 20's own exit sequence shuts the platform's worker threads down before the
 * heap, and a background compile job waiting for a garbage collection at that instant waits for ever: a child
 * that had finished its work hung in `process.exit()` (about 1 run in 50 of the queue suite's 3x3 stress, under
 * load; the main thread was joining the job's thread). stdout and stderr pipes are blocking in a child, so no
 * output is lost. In a thread child, without the addon, or when Node must write a profile or coverage at exit:
 * `process.exit`.
 */
/**
 * Whether Node writes something at its own exit that `_exit` would lose: a CPU or heap profile (`--cpu-prof`,
 * `--heap-prof`, `--prof`) or V8 coverage (`NODE_V8_COVERAGE`, which c8 sets). Such a child ends through
 * `process.exit()`.
 */
function nodeWritesAtExit(): boolean {
  if (process.env.NODE_V8_COVERAGE) return true;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((flag) => /^--(cpu-prof|heap-prof|prof)(=|$)/.test(flag));
}

function exitChild(code: number | undefined): never {
  if (code !== undefined) process.exitCode = code;
  const native = loadNative();
  // A thread child's process.exit() ends only its Worker, which is what it must do.
  if (!isMainThread || native === null || typeof native.exitNow !== 'function' || nodeWritesAtExit())
    process.exit();
  // Set before 'exit' is emitted, as process.exit() does: Node's own handler for an entry module whose top-level
  // await has not settled (the bootstrap's, which is this call) otherwise turns an unset code into 13.
  process.exitCode = Number(process.exitCode ?? 0) || 0;
  const p = process as NodeJS.Process & { _exiting?: boolean };
  if (!p._exiting) {
    p._exiting = true;
    process.emit('exit', process.exitCode);
  }
  return native.exitNow(Number(process.exitCode ?? 0) || 0); // an 'exit' handler may have set it
}

async function findTarget(spec: ChildSpec): Promise<Function> {
  const { moduleUrl, exportName, source } = spec.target;
  const name = spec.self.name;
  let ns: Record<string, unknown>;
  try {
    ns = await import(moduleUrl);
  } catch (error) {
    fail(name, `cannot import the target's module ${moduleUrl}:\n${inspect(error)}`);
  }
  let fn = exportName === '' ? undefined : ns[exportName];
  if (typeof fn !== 'function' && source !== undefined) {
    const same = Object.keys(ns).filter((key) => typeof ns[key] === 'function' && String(ns[key]) === source);
    if (same.length === 1) fn = ns[same[0]!];
  }
  if (typeof fn === 'function') return fn;
  const what = exportName === '' ? 'the (anonymous) target function' : `'${exportName}'`;
  if (exportName !== '' && exportName in ns) {
    fail(
      name,
      `${what} exported by ${moduleUrl} is a ${typeof fn}, not a function: export the target function itself`,
    );
  }
  fail(
    name,
    `${moduleUrl} does not export ${what}: export the target function (\`export function ${exportName || 'myTarget'}(…)\`), and pass its module and name if it lives elsewhere`,
  );
}

/**
 * Runs the child to completion; never returns. As in CPython's spawn, the target's module is imported before the
 * arguments are decoded; procq handles among them (a Queue, a Lock) need their classes' revivers, whose modules
 * are loaded first when there are any (revivers.ts).
 */
export async function runChild(spec: ChildSpec, wire: Wire): Promise<never> {
  setChildIdentity(spec.self);
  process.argv = [process.argv[0]!, ...spec.argv];
  setBootstrapping(true);
  const fn = await findTarget(spec);
  setBootstrapping(false);
  let args: unknown;
  try {
    if (wire.handles) await loadRevivers(spec.handleTypes);
    args = decodeValue(wire);
  } catch (error) {
    fail(spec.self.name, `cannot decode the arguments:\n${inspect(error)}`);
  }
  trackWorkers();
  let code: number | undefined; // undefined: process.exitCode, as the target may have set it
  try {
    await fn(...(args as unknown[]));
  } catch (error) {
    process.stderr.write(`Process ${spec.self.name}:\n${inspect(error)}\n`);
    code = 1;
  }
  // Like Python's child: wait for the non-daemon work the target started (nondaemon.ts), then exit, whatever
  // timers or handles it left behind.
  await nonDaemonWorkDone();
  exitChild(code); // undefined: process.exitCode, as the target may have set it
}
