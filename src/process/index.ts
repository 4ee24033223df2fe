/**
 * Processes: `Process` over three start methods, one file each (CPython's `popen_*.py`):
 * 1. `popen-thread.ts` + `bootstrap-thread.ts`: a worker thread (`startMethod: 'thread'`);
 * 2. `popen-spawn.ts` + `bootstrap-spawn.ts`: a fresh Node process (`startMethod: 'spawn'`, the default off
 *    Linux);
 * 3. `popen-forkserver.ts` + `bootstrap-forkserver.ts`: a warm Node process (`startMethod: 'forkserver'`, the
 *    default on Linux).
 * `child.ts` is the start-up both children share; `target.ts` finds the target in the parent; `current.ts` says
 * who we are (`../context.ts` binds the whole API to a start method).
 */
export {
  cpuCount,
  currentProcess,
  isMainProcess,
  type ParentInfo,
  type ProcessInfo,
  parentProcess,
  type StartMethod,
} from './current.js';
export { activeChildren, Process, type ProcessOptions } from './process.js';
export { getStartMethod, setStartMethod } from './start-method.js';
