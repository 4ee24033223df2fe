/**
 * `startMethod: 'spawn'`: the child is a fresh Node process (CPython's `popen_spawn_posix.py`).
 *
 * - It runs `node <parent's execArgv> bootstrap-spawn.js`, so loaders (`--import tsx`) and flags carry over;
 *   flags that would make the child do something else (`--test`, `-e`, `--watch`, `--inspect`) are dropped.
 * - stdin is /dev/null (as Python's children); stdout and stderr are the parent's own file descriptors, so the
 *   child's output is out before its exit is reported.
 * - The spec and the encoded arguments go down an extra pipe (fd 3), length-prefixed:
 *   `[u32 LE json length][json][u32 LE args length][args bytes]`. The parent keeps its end open for the child's
 *   whole life: the child takes EOF on it as "my parent is gone" (see bootstrap-spawn.ts).
 */

import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { childProcess } from '../builtins.js';
import { sweepSegments } from '../memory/shm-segment.js';
import type { Popen, PopenOptions } from './popen.js';
import { siblingUrl } from './popen.js';

/** Flags of this process that the child must not repeat, with whether each takes the next argument as its value. */
const DROP: ReadonlyArray<[RegExp, boolean]> = [
  [/^(?:-e|--eval|-p|--print)$/, true],
  [/^(?:--eval|--print)=/, false],
  [/^(?:-i|--interactive|-c|--check|--test|--watch|--watch-preserve-output)$/, false],
  [/^--test-(?:reporter|reporter-destination|name-pattern|skip-pattern|concurrency|timeout|shard)$/, true],
  [/^--(?:test-only|test-force-exit|test-update-snapshots|experimental-test-coverage)$/, false],
  [/^--(?:test|watch|input-type|inspect|inspect-brk|inspect-wait|debug-port)[\w-]*=/, false],
  [/^--(?:inspect|inspect-brk|inspect-wait)$/, false],
  [/^--(?:watch-path|input-type|debug-port)$/, true],
];

export function childExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const rule = DROP.find(([re]) => re.test(arg));
    if (rule === undefined) out.push(arg);
    else if (rule[1]) i++;
  }
  return out;
}

/** The JSON part of the fd 3 message. */
export interface SpawnHeader {
  readonly spec: PopenOptions['spec'];
  readonly handles: boolean;
  /**
   * A forkserver's warm child only (it was spawned earlier, with the environment of then): how the parent's
   * environment at `start()` differs from that one (variables set or changed, variables removed), and the
   * working directory at `start()`, which the child takes on before it imports the target, so that it sees what
   * a spawned child would. A difference, not the whole environment: each variable set in the child is a
   * `setenv`, and the child does this between the start and its first item.
   */
  readonly envSet?: Readonly<Record<string, string>>;
  readonly envUnset?: readonly string[];
  readonly cwd?: string;
}

export function frame(header: SpawnHeader, bytes: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(8 + json.length + bytes.length);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  out.writeUInt32LE(bytes.length, 4 + json.length);
  out.set(bytes, 8 + json.length);
  return out;
}

/** `node <execArgv> <bootstrap>` with stdin /dev/null, the parent's stdout and stderr, and the fd 3 pipe. */
export function spawnBootstrap(bootstrap: string, args: readonly string[] = []): ChildProcess {
  return childProcess().spawn(
    process.execPath,
    [...childExecArgv(), fileURLToPath(siblingUrl(bootstrap)), ...args],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    },
  );
}

export class SpawnPopen implements Popen {
  readonly pid: number;
  readonly threadId = undefined;
  exitCode: number | null = null;
  readonly exited: Promise<number>;
  readonly #child: ChildProcess;

  /**
   * Starts `child` (a fresh `bootstrap-spawn` unless given one, e.g. a forkserver's warm child) on `spec`; `extra`
   * goes into the header too.
   */
  constructor(
    { spec, args }: PopenOptions,
    child: ChildProcess = spawnBootstrap('bootstrap-spawn'),
    extra: Pick<SpawnHeader, 'envSet' | 'envUnset' | 'cwd'> = {},
  ) {
    this.#child = child;
    this.exited = new Promise<number>((resolve) => {
      child.once('error', (error) => {
        process.stderr.write(
          `Process ${spec.self.name}: cannot spawn ${process.execPath}: ${error.message}\n`,
        );
        if (this.exitCode === null) resolve((this.exitCode = 1));
      });
      child.once('exit', (code, signal) => {
        if (this.exitCode !== null) return;
        this.exitCode = signal ? -(constants.signals[signal] ?? 1) : (code ?? 1);
        // A child ended by a signal ran no exit cleanup: remove the shared memory it created (none is in use by
        // anyone who has not mapped it already; mappings outlive the name).
        if (signal && child.pid !== undefined) sweepSegments({ pid: child.pid });
        resolve(this.exitCode);
      });
    });
    this.pid = child.pid ?? -1;
    const pipe = child.stdio[3] as Socket | null;
    if (pipe) {
      pipe.on('error', () => {}); // EPIPE when the child dies before reading: its exit code tells the story.
      pipe.write(frame({ spec, handles: args.handles, ...extra }, args.bytes));
      pipe.unref();
    }
  }

  terminate(): void {
    if (this.exitCode === null) this.#child.kill('SIGTERM');
  }

  kill(): void {
    if (this.exitCode === null) this.#child.kill('SIGKILL');
  }

  unref(): void {
    this.#child.unref();
  }
}
