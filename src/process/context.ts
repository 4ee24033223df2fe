/**
 * `getContext(method)`: the API bound to one start method (Python's `multiprocessing.get_context`).
 * Everything a context exposes is listed in `buildContext`, the one place to extend (queues, locks, pools …).
 */
import { availableParallelism } from 'node:os';
import { Pool, type PoolOptions } from '../pool/index.js';
import { JoinableQueue, Queue, SimpleQueue } from '../queue/queue.js';
import { currentProcess, isMainProcess, parentProcess, type StartMethod } from './current.js';
import { activeChildren, Process, type ProcessOptions } from './process.js';
import { checkStartMethod, getStartMethod } from './start-method.js';

/** The number of CPUs this process may use (`os.availableParallelism()`); Python's `cpu_count()`. */
export function cpuCount(): number {
  return availableParallelism();
}

function buildContext(method: StartMethod) {
  /** `Process` with this context's start method (a `startMethod` option is overridden). */
  class ContextProcess extends Process {
    constructor(options: ProcessOptions) {
      super({ ...options, startMethod: method });
    }
  }
  Object.defineProperty(ContextProcess, 'name', { value: 'Process' });
  /** `Pool` whose workers use this context's start method. */
  class ContextPool extends Pool {
    constructor(options: PoolOptions = {}) {
      super({ ...options, startMethod: method });
    }
  }
  Object.defineProperty(ContextPool, 'name', { value: 'Pool' });
  return Object.freeze({
    startMethod: method,
    Process: ContextProcess,
    currentProcess,
    parentProcess,
    activeChildren,
    cpuCount,
    isMainProcess,
    Pool: ContextPool as typeof Pool,
    Queue,
    JoinableQueue,
    SimpleQueue,
  });
}

export type Context = ReturnType<typeof buildContext>;

const contexts = new Map<StartMethod, Context>();

/** The API bound to `method` (default: the current default start method). */
export function getContext(method?: StartMethod): Context {
  const m = method === undefined ? getStartMethod() : checkStartMethod(method, 'method');
  let ctx = contexts.get(m);
  if (!ctx) contexts.set(m, (ctx = buildContext(m)));
  return ctx;
}
