/**
 * Entry point of a spawned child (see popen-spawn.ts for the fd 3 protocol).
 *
 * No orphans: a child whose parent dies (even by SIGKILL) must not run on forever. Three guards, cheapest first:
 * 1. the native addon's `setParentDeathSignal(SIGKILL)` (Linux `PR_SET_PDEATHSIG`), when it loads;
 * 2. right after it, `process.ppid` against the parent's pid: a parent that died before step 1 has already
 *    re-parented us;
 * 3. EOF on fd 3, whose other end only the parent holds: the kernel closes it when the parent dies, however it
 *    dies. Works without the addon, at the cost of one unref'd pipe read.
 * Note: `PR_SET_PDEATHSIG` fires when the parent *thread* that spawned us ends: a Process spawned from a worker
 * thread dies with that worker.
 */
import { readSync } from 'node:fs';
import { Socket } from 'node:net';
import { loadNative } from '../native/index.js';
import { runChild } from './child.js';
import type { SpawnHeader } from './popen-spawn.js';

const FD = 3;

function readExactly(length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    let n: number;
    try {
      n = readSync(FD, buf, off, length - off, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      continue;
    }
    if (n === 0) process.exit(1); // the parent died before sending everything
    off += n;
  }
  return buf;
}

async function dieWithParent(parentPid: number): Promise<void> {
  try {
    loadNative()?.setParentDeathSignal(9);
  } catch {
    // No addon (not built, or not loadable here): guards 2 and 3 still hold.
  }
  if (process.ppid !== parentPid) process.kill(process.pid, 'SIGKILL');
  const watch = new Socket({ fd: FD, readable: true, writable: false });
  watch.on('data', () => {});
  watch.on('end', () => process.kill(process.pid, 'SIGKILL'));
  watch.on('error', () => process.kill(process.pid, 'SIGKILL'));
  watch.unref();
}

/**
 * Output must not be lost when the child exits (Python flushes before `os._exit`). Node writes to a pipe without
 * blocking and queues what the pipe cannot take, and `process.exit()` drops that queue; so when stdout or stderr is
 * a pipe, make its writes blocking, as Node already does for files and terminals. (The flag belongs to the pipe, so
 * the parent's own writes to it block too when it is full, as they would in Python.)
 */
for (const stream of [process.stdout, process.stderr]) (stream as any)._handle?.setBlocking?.(true);

const { spec, handles } = JSON.parse(readExactly(readExactly(4).readUInt32LE(0)).toString()) as SpawnHeader;
const bytes = readExactly(readExactly(4).readUInt32LE(0));
await dieWithParent(spec.self.parent.pid);
await runChild(spec, { bytes, sabs: [], handles });
