/**
 * Python's rule for the end of a child: once the target has returned (or thrown), the child waits for the
 * non-daemon work it started, and leaves daemon work behind (CPython's `_bootstrap` joins non-daemon children in
 * `util._exit_function()` and non-daemon threads in `threading._shutdown()`). The Node analogue, for work started
 * in the child by its target:
 * - a procq `Process` follows its `daemon` flag (`daemon: false` is waited for; a daemon one is left to end with
 *   the child, as in Python): it is a worker thread or a child process, ref'd unless it is a daemon;
 * - a worker thread (`new Worker(…)`) is non-daemon while it is ref'd (the default); `worker.unref()` makes it a
 *   daemon;
 * - a child process (`child_process.spawn`, `exec`, `fork`, …) is non-daemon while it is ref'd (the default);
 *   `child.unref()` makes it a daemon.
 * Anything else the target left behind (timers, sockets, servers, pending promises) is not waited for: the child
 * exits once the work above is done, as a Python child does not wait for its sockets.
 *
 * Worker threads are counted by wrapping `worker_threads.Worker` for the child's lifetime (live ESM bindings are
 * refreshed with `syncBuiltinESMExports`, so `import { Worker }` in user code sees the wrapper too); child
 * processes by their ref'd process handles (`process.getActiveResourcesInfo()`). Kept free of procq imports: it
 * loads with every child.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);

/** Worker threads started since `trackWorkers()` that have not exited, with whether each is ref'd. */
const workers = new Map<object, boolean>();

/** From now on, count the worker threads this thread starts. */
export function trackWorkers(): void {
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const Base = wt.Worker;
  if ((Base as { procqTracked?: boolean }).procqTracked) return;
  class Worker extends Base {
    static readonly procqTracked = true;
    constructor(...args: ConstructorParameters<typeof Base>) {
      super(...args);
      workers.set(this, true);
      this.once('exit', () => workers.delete(this));
    }
    override ref(): void {
      super.ref();
      if (workers.has(this)) workers.set(this, true);
    }
    override unref(): void {
      super.unref();
      if (workers.has(this)) workers.set(this, false);
    }
  }
  wt.Worker = Worker;
  syncBuiltinESMExports();
}

/** Whether non-daemon work (see the module comment) is still running. */
function nonDaemonWorkRunning(): boolean {
  for (const refd of workers.values()) if (refd) return true;
  return process.getActiveResourcesInfo().includes('ProcessWrap');
}

/** How often the end of the non-daemon work is looked for. */
const POLL_MS = 10;

/** Resolves once the non-daemon work this thread started has ended. */
export async function nonDaemonWorkDone(): Promise<void> {
  while (nonDaemonWorkRunning()) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
}
