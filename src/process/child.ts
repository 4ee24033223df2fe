/**
 * The part of a child's start-up both bootstraps share: record who we are, import the target's module, find the
 * export, call it with the arguments, and exit with Python's exit codes (0 on return, 1 on a throw, with the error
 * printed to stderr like a traceback), once the non-daemon work the target started is done (nondaemon.ts). Kept
 * free of heavy imports: it runs before every child's first line.
 */
import { inspect } from 'node:util';
import { decodeValue, type Wire } from '../codec/index.js';
import { type ChildIdentity, setBootstrapping, setChildIdentity } from './current.js';
import { nonDaemonWorkDone, trackWorkers } from './nondaemon.js';
import type { TargetSpec } from './target.js';

/** Everything a child receives besides its arguments. JSON-safe (spawn sends it as JSON). */
export interface ChildSpec {
  readonly target: TargetSpec;
  readonly self: ChildIdentity;
  /** The parent's `process.argv.slice(1)`: the child sees the same script and arguments (as CPython's spawn). */
  readonly argv: readonly string[];
}

function fail(name: string, message: string): never {
  process.stderr.write(`Process ${name}: ${message}\n`);
  process.exit(1);
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
 * arguments are decoded; procq handles among them (a Queue, a Lock) need their classes' revivers, which the
 * package root registers, so it is loaded first when there are any.
 */
export async function runChild(spec: ChildSpec, wire: Wire): Promise<never> {
  setChildIdentity(spec.self);
  process.argv = [process.argv[0]!, ...spec.argv];
  setBootstrapping(true);
  const fn = await findTarget(spec);
  setBootstrapping(false);
  let args: unknown;
  try {
    if (wire.handles) await import('../index.js');
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
  if (code === undefined) process.exit(); // not exit(undefined): Node 20 reads that as 0
  process.exit(code);
}
