/**
 * `getContext(method)`: the API bound to one start method (Python's `multiprocessing.get_context`).
 * Everything a context exposes is listed in `buildContext`, the one place to extend.
 *
 * It sits above `process/`, `pool/`, `queue/`, `pipe/` and `sync/` (it binds them together), so none of them
 * imports it.
 */
import { Pipe } from './pipe/index.js';
import { Pool, type PoolOptions } from './pool/index.js';
import {
  cpuCount,
  currentProcess,
  isMainProcess,
  parentProcess,
  type StartMethod,
} from './process/current.js';
import { activeChildren, Process, type ProcessOptions, type Target } from './process/process.js';
import { checkStartMethod, getStartMethod } from './process/start-method.js';
import { JoinableQueue, Queue, SimpleQueue } from './queue/queue.js';
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
  SharedArray,
  Value,
} from './sync/index.js';

function buildContext(method: StartMethod) {
  /** `Process` with this context's start method (a `startMethod` option is overridden). */
  class ContextProcess<F extends Target = Target> extends Process<F> {
    constructor(options: ProcessOptions<F>) {
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
    Process: ContextProcess as typeof Process,
    currentProcess,
    parentProcess,
    activeChildren,
    cpuCount,
    isMainProcess,
    Pool: ContextPool as typeof Pool,
    Queue,
    JoinableQueue,
    SimpleQueue,
    Pipe,
    Lock,
    RLock,
    Semaphore,
    BoundedSemaphore,
    Event,
    Condition,
    Barrier,
    Value,
    SharedArray,
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
