/**
 * Waiting for a child process synchronously, for the one place that cannot wait asynchronously: the parent's
 * `'exit'` event, where Python's rule says non-daemon children are joined. Node's event loop no longer runs there,
 * so the child is never reaped: it counts as ended once it is a zombie (Linux `/proc/<pid>/stat` state `Z`) or gone.
 * Elsewhere (no `/proc`), it returns at once and the child outlives the parent.
 */
import { readdirSync, readFileSync } from 'node:fs';

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

/** Every live descendant of `pid` (children, their children, …), read from /proc; empty elsewhere. */
export function descendantsOf(pid: number): number[] {
  if (process.platform !== 'linux') return [];
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    const child = Number(entry);
    if (!Number.isInteger(child)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${child}/stat`, 'latin1');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid);
    if (list) list.push(child);
    else children.set(ppid, [child]);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}
