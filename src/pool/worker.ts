/**
 * The loop a pool worker runs: a `Process` whose target is `poolWorker`, in a worker thread or another OS process.
 *
 * It runs the initializer, says it is ready, then takes one task message at a time from its own inbox, calls the
 * function on each item (awaiting what returns a promise), and puts one result message per task. One message at a
 * time, so that when a worker dies the pool knows what it was doing: the task it had taken (failed), and the tasks
 * still in its inbox (never seen; given to another worker). `null` in the inbox means "exit".
 *
 * A function is imported once per worker, on its first task, while the child counts as bootstrapping: a module
 * whose top level starts processes without an `isMainProcess()` guard fails that task instead of starting
 * workers without end.
 */

import { InvariantError, ProcessError } from '../errors.js';
import { setBootstrapping } from '../process/current.js';
import type { Queue } from '../queue/queue.js';
import { denseArray, NUMBERS_MIN, pack, unpack } from './pack.js';
import {
  type FunctionSpec,
  type InitMessage,
  packError,
  type ResultMessage,
  type ResultWire,
  type TaskMessage,
  type TaskWire,
} from './protocol.js';

export async function poolWorker(
  inbox: Queue<TaskWire>,
  results: Queue<ResultWire>,
  worker: number,
  init: InitMessage | null,
): Promise<void> {
  if (init !== null) {
    try {
      const fn = await loadFunction(init.spec);
      await fn(...init.args);
    } catch (error) {
      results.putSync({ kind: 'init-failed', worker, error: packError(error) });
      return;
    }
  }
  results.putSync({ kind: 'ready', worker });
  const functions = new Map<number, Promise<Function>>();
  for (;;) {
    const task = unpack(await inbox.get());
    if (task === null) return;
    const result = await run(task, functions, worker);
    try {
      results.putSync(result.kind === 'done' ? pack(result, 'values') : result);
    } catch (error) {
      // Python's MaybeEncodingError: the results do not clone. The task fails; the worker goes on.
      const message = `the result of this task cannot be sent back to the pool: ${(error as Error)?.message}`;
      results.putSync({ kind: 'failed', worker, id: task.id, error: packError(new TypeError(message)) });
    }
  }
}

async function run(
  task: TaskMessage,
  functions: Map<number, Promise<Function>>,
  worker: number,
): Promise<ResultMessage> {
  try {
    let loading = functions.get(task.fn);
    if (loading === undefined) {
      if (task.spec === undefined) {
        throw new InvariantError(`pool worker got function ${task.fn} without its spec`);
      }
      loading = loadFunction(task.spec);
      loading.catch(() => {}); // awaited below; a failure is kept and fails every task of that function
      functions.set(task.fn, loading);
    }
    const fn = await loading;
    const { items, star } = task;
    // Numbers go straight into the array a number frame carries (pack.ts), while every result is one; the first
    // other value moves them to a plain array. That one is filled by push, so that it is packed (no holes): V8
    // serializes a holey array as a sparse one, key by key, about 20x slower for a big chunk's results.
    let numbers = items.length >= NUMBERS_MIN ? resultScratch(items.length) : undefined;
    let values: unknown[] = [];
    for (let i = 0; i < items.length; i++) {
      let value: unknown = star ? fn(...(items[i] as unknown[])) : fn(items[i]);
      if (isThenable(value)) value = await value;
      if (numbers !== undefined) {
        if (typeof value === 'number') {
          numbers[i] = value;
          continue;
        }
        values = denseArray(numbers.subarray(0, i));
        numbers = undefined;
      }
      values.push(value);
    }
    return { kind: 'done', worker, id: task.id, values: numbers ?? values };
  } catch (error) {
    return { kind: 'failed', worker, id: task.id, error: packError(error) };
  }
}

/**
 * Grow-only memory for a task's numeric results, reused by every task: a worker runs one task at a time, and its
 * results are packed (copied into a frame) and sent before it takes the next.
 */
let scratch = new Float64Array(0);

function resultScratch(length: number): Float64Array {
  if (scratch.length < length) scratch = new Float64Array(Math.max(length, 2 * scratch.length));
  return scratch.subarray(0, length);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** Imports the module and finds the export, as a `Process` child finds its target; throws what to export. */
async function loadFunction(spec: FunctionSpec): Promise<Function> {
  const { moduleUrl, exportName, source } = spec;
  let ns: Record<string, unknown>;
  setBootstrapping(true);
  try {
    ns = await import(moduleUrl);
  } catch (error) {
    throw new ProcessError(
      `a pool worker cannot import ${moduleUrl}: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  } finally {
    setBootstrapping(false);
  }
  let fn = exportName === '' ? undefined : ns[exportName];
  if (typeof fn !== 'function' && source !== undefined) {
    const same = Object.keys(ns).filter((key) => typeof ns[key] === 'function' && String(ns[key]) === source);
    if (same.length === 1) fn = ns[same[0]!];
  }
  if (typeof fn === 'function') return fn;
  if (exportName !== '' && exportName in ns) {
    throw new TypeError(
      `'${exportName}' exported by ${moduleUrl} is a ${typeof fn}, not a function: pass the pool a function exported from an ES module`,
    );
  }
  const what = exportName === '' ? 'the (anonymous) function given to the pool' : `'${exportName}'`;
  throw new TypeError(
    `${moduleUrl} does not export ${what}: pool workers import the module and call the export, so export the function (\`export function ${exportName || 'work'}(…)\`), or pass { module, name } when it lives elsewhere`,
  );
}
