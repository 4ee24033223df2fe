/**
 * Runs the roles of one measurement (producers, consumers, pingers …) in fresh worker threads or fresh child
 * processes, and times them between one common start and the last role's end.
 *
 * Protocol, over each role's own control channel (`parentPort` or the `child_process` IPC channel):
 *   role → parent `{ type: 'ready' }`   the role has set up (attached memory, warmed nothing)
 *   parent → role `{ type: 'go' }`      sent to every role once all are ready; the clock starts here
 *   role → parent `{ type: 'done', value, rssKb }` or `{ type: 'error', message }`
 * The clock stops when the last role is done. A role is a function exported from an ES module:
 * `(ctl: RoleControl, args) => Promise<value>`; it calls `await ctl.ready()` right before its measured loop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

export interface RoleControl {
  /** Reports ready and resolves on the common start signal. */
  ready(): Promise<void>;
}

export type RoleFn = (ctl: RoleControl, args: any) => Promise<unknown>;

export interface RoleSpec {
  where: 'thread' | 'process';
  /** The module's URL (`import.meta.url` of the file exporting `fn`). */
  module: string;
  fn: string;
  args: unknown;
}

export interface RolesOutcome {
  seconds: number;
  values: unknown[];
  /** The highest peak RSS any role's process reported, in MB. */
  peakRssMb: number;
}

export type RoleMessage =
  | { type: 'ready' }
  | { type: 'done'; value: unknown; rssKb: number }
  | { type: 'error'; message: string };

interface Running {
  send(m: { type: 'go' }): void;
  on(cb: (m: RoleMessage) => void, onExit: (why: string) => void): void;
  stop(): Promise<void>;
}

function startThread(spec: RoleSpec): Running {
  const w = new Worker(new URL('./role-thread.js', import.meta.url), {
    workerData: { module: spec.module, fn: spec.fn, args: spec.args },
  });
  return {
    send: (m) => w.postMessage(m),
    on(cb, onExit) {
      w.on('message', cb);
      w.on('error', (e) => onExit(`worker error: ${e.stack ?? e}`));
      w.on('exit', (code) => onExit(`worker exited with code ${code}`));
    },
    async stop() {
      await w.terminate();
    },
  };
}

function startProcess(spec: RoleSpec): Running {
  const c: ChildProcess = fork(new URL('./role-process.js', import.meta.url), [], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  c.send({ module: spec.module, fn: spec.fn, args: spec.args });
  return {
    send: (m) => c.send(m),
    on(cb, onExit) {
      c.on('message', (m) => cb(m as RoleMessage));
      c.on('exit', (code, signal) => onExit(`child exited with ${signal ?? code}`));
    },
    async stop() {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export async function runRoles(specs: RoleSpec[], timeoutMs: number): Promise<RolesOutcome> {
  const running = specs.map((s) => (s.where === 'thread' ? startThread(s) : startProcess(s)));
  const values: unknown[] = new Array(specs.length);
  let ready = 0;
  let done = 0;
  let t0 = 0;
  let t1 = 0;
  let rssKb = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      const finished = new Array<boolean>(specs.length).fill(false);
      running.forEach((r, idx) => {
        r.on(
          (m) => {
            if (m.type === 'ready') {
              if (++ready === specs.length) {
                t0 = performance.now();
                for (const x of running) x.send({ type: 'go' });
              }
            } else if (m.type === 'done') {
              finished[idx] = true;
              values[idx] = m.value;
              rssKb = Math.max(rssKb, m.rssKb);
              if (++done === specs.length) {
                t1 = performance.now();
                clearTimeout(timer);
                resolve();
              }
            } else {
              clearTimeout(timer);
              reject(new Error(m.message));
            }
          },
          (why) => {
            if (!finished[idx]) {
              clearTimeout(timer);
              reject(new Error(`${specs[idx]!.fn}: ${why}`));
            }
          },
        );
      });
    });
  } finally {
    await Promise.all(running.map((r) => r.stop()));
  }
  return { seconds: (t1 - t0) / 1000, values, peakRssMb: rssKb / 1024 };
}
