/**
 * What `/proc` says about a thread or process, read without touching it: whether it lives, whether it is stopped
 * (SIGSTOP, a debugger), which process a thread belongs to. Linux only; elsewhere every answer is "unknown".
 */
import { readFileSync } from 'node:fs';

export interface ThreadInfo {
  /** The process the thread belongs to (its thread group id); the tid itself when it cannot be read. */
  readonly pid: number;
  readonly tid: number;
  /** false: gone or a zombie; null: cannot be told (no `/proc`). */
  readonly alive: boolean | null;
  /** Stopped by a signal or a tracer (`/proc/<tid>/stat` state `T` or `t`). */
  readonly stopped: boolean;
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat', 'latin1');
    return true;
  } catch {
    return false;
  }
})();

/** The fields of `/proc/<id>/stat` after the command name: [0] is the state, [19] the start time. */
function statFields(id: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${id}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Liveness and owning process of thread (or process) `tid`, as `/proc/<tid>` tells it now. */
export function threadInfo(tid: number): ThreadInfo {
  if (!hasProc || !Number.isInteger(tid) || tid <= 0) return { pid: tid, tid, alive: null, stopped: false };
  const fields = statFields(tid);
  if (fields === undefined) return { pid: tid, tid, alive: false, stopped: false };
  const state = fields[0] ?? '';
  let pid = tid;
  try {
    const m = /^Tgid:\s+(\d+)/m.exec(readFileSync(`/proc/${tid}/status`, 'latin1'));
    if (m !== null) pid = Number(m[1]);
  } catch {
    // gone between the two reads: the stat answer stands
  }
  const alive = state !== 'Z' && state !== 'X' && state !== 'x';
  return { pid, tid, alive, stopped: alive && (state === 'T' || state === 't') };
}

/** The start time of process `pid` (hex clock ticks since boot), as segment and registry names carry it. */
export function startTimeOf(pid: number | 'self'): string | undefined {
  const field = statFields(pid === 'self' ? process.pid : pid)?.[19];
  return field === undefined ? undefined : BigInt(field).toString(16);
}

/** Whether process `pid` is alive and is the one that started at `start` (a pid may have been reused). */
export function processAlive(pid: number, start: string | undefined): boolean | null {
  if (!hasProc) return null;
  const fields = statFields(pid);
  if (fields === undefined) return false;
  const state = fields[0];
  if (state === 'Z' || state === 'X' || state === 'x') return false;
  if (start === undefined || start === '0') return true;
  const field = fields[19];
  return field === undefined || BigInt(field).toString(16) === start;
}
