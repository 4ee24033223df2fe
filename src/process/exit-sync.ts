/**
 * Waiting for a child process synchronously, for the one place that cannot wait asynchronously: the parent's
 * `'exit'` event, where Python's rule says non-daemon children are joined. Node's event loop no longer runs there,
 * so the child is never reaped: it counts as ended once it is a zombie (Linux `/proc/<pid>/stat` state `Z`) or gone.
 * Elsewhere (no `/proc`), it returns at once and the child outlives the parent.
 */
import { readFileSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

function ended(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return true;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

/** Waits until `pid` has ended, at most `timeoutMs`; returns whether it has. */
export function waitExitedSync(pid: number, timeoutMs = Number.POSITIVE_INFINITY): boolean {
  if (process.platform !== 'linux') return false;
  const deadline = performance.now() + timeoutMs;
  while (!ended(pid)) {
    if (performance.now() >= deadline) return false;
    Atomics.wait(pause, 0, 0, 5);
  }
  return true;
}
