/**
 * `startMethod: 'thread'`: the child is a worker thread of this process.
 *
 * - The arguments travel in `workerData` (their `SharedArrayBuffer`s are shared, not copied).
 * - The worker inherits `process.execArgv` (under `node -e`/`--input-type` it starts from an eval, see
 *   `startedByEval`). Loaders given with `--import` do not all register themselves in worker
 *   threads on every Node version (tsx only does so in the main thread on Node 20), so the worker re-registers
 *   tsx itself before it loads anything else.
 * - A worker's stdout and stderr are forwarded through this thread's event loop; the exit is reported only once both
 *   streams have ended, so everything the child printed is out before `join()` resolves.
 * - `terminate()` and `kill()` both stop the worker (threads cannot be signalled) and report -15 and -9.
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import * as workerThreads from 'node:worker_threads';
import { Worker } from 'node:worker_threads';
import type { Popen, PopenOptions } from './popen.js';
import { siblingUrl } from './popen.js';

/** The data a thread child receives. */
export interface ThreadBoot {
  readonly spec: PopenOptions['spec'];
  readonly args: PopenOptions['args'];
}

/**
 * What the worker must import to register tsx itself (`undefined`: nothing): when this process runs under tsx
 * (`node --import tsx`, or the `tsx` command, which passes `--import <tsx>/dist/loader.mjs`) on a Node whose tsx
 * does not register in workers (those without `worker_threads.isInternalThread`).
 */
function tsxApi(): string | undefined {
  if ('isInternalThread' in workerThreads) return undefined;
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const spec = arg === '--import' ? argv[i + 1] : arg.startsWith('--import=') ? arg.slice(9) : undefined;
    if (spec === 'tsx' || spec === 'tsx/esm') return 'tsx/esm/api';
    const dist = spec && /^(.*[\\/]tsx[\\/]dist[\\/])(?:loader|esm[\\/]index)\.mjs$/.exec(spec)?.[1];
    if (dist) return new URL('esm/api/index.mjs', dist.startsWith('file:') ? dist : pathToFileURL(dist)).href;
  }
  return undefined;
}

/**
 * Whether this process runs code given on the command line (`node -e`, `-p`, `--input-type=module`). A worker
 * inherits those flags, and Node refuses to load a file entry under `--input-type`: such a worker starts from a
 * one-line eval that imports the entry instead (the flags then apply to that line, which is valid in both module
 * types).
 */
function startedByEval(): boolean {
  return process.execArgv.some((arg) => /^(?:-e|-p|--eval|--print|--input-type)(?:=|$)/.test(arg));
}

async function ended(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return;
  await Promise.race([once(stream, 'end'), once(stream, 'close')]).catch(() => {});
}

export class ThreadPopen implements Popen {
  readonly pid = process.pid;
  readonly threadId: number;
  exitCode: number | null = null;
  readonly exited: Promise<number>;
  readonly #worker: Worker;
  #signal = 0;

  constructor({ spec, args }: PopenOptions) {
    const boot: ThreadBoot = { spec, args };
    const entry = siblingUrl('bootstrap-thread');
    const tsx = tsxApi();
    const worker = tsx
      ? new Worker(
          `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(entry.href)}))`,
          { eval: true, workerData: boot },
        )
      : startedByEval()
        ? new Worker(`import(${JSON.stringify(entry.href)})`, { eval: true, workerData: boot })
        : new Worker(entry, { workerData: boot });
    this.#worker = worker;
    this.threadId = worker.threadId;
    this.exited = new Promise<number>((resolve) => {
      let error: unknown;
      worker.on('error', (e) => {
        // An error that escaped the bootstrap (the bootstrap itself failed to load): print it as Node would.
        error = e;
        process.stderr.write(`Process ${spec.self.name}: ${(e as Error)?.stack ?? String(e)}\n`);
      });
      worker.once('exit', async (code) => {
        await Promise.all([ended(worker.stdout), ended(worker.stderr)]);
        this.exitCode = this.#signal ? -this.#signal : error !== undefined && code === 0 ? 1 : code;
        resolve(this.exitCode);
      });
    });
  }

  #stop(signal: number): void {
    if (this.exitCode !== null || this.#signal) return;
    this.#signal = signal;
    void this.#worker.terminate();
  }

  terminate(): void {
    this.#stop(15);
  }

  kill(): void {
    this.#stop(9);
  }

  unref(): void {
    this.#worker.unref();
  }
}
