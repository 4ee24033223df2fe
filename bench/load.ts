/**
 * `procq bench --load N`: N busy-looping processes beside every case, the normal state of a job farm that uses
 * every core. Each is a bare `node -e` loop that exits by itself once its parent (this process) is gone, so a
 * killed benchmark leaves no spinner behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';

const LOOP =
  'const p = process.ppid; for (let i = 0; ; i = (i + 1) | 0) if ((i & 0xffffff) === 0 && process.ppid !== p) process.exit();';

export interface Load {
  readonly processes: number;
  stop(): void;
}

export function startLoad(processes: number): Load {
  const children: ChildProcess[] = [];
  for (let i = 0; i < processes; i++)
    children.push(spawn(process.execPath, ['-e', LOOP], { stdio: 'ignore' }));
  const stop = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    process.off('exit', stop);
  };
  process.on('exit', stop);
  return { processes, stop };
}
