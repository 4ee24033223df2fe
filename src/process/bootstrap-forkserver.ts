/**
 * Entry point of a forkserver's warm child (see popen-forkserver.ts): load everything a child needs, say so with
 * one byte on fd 3, then sleep in the event loop until the parent sends the child's frame on fd 3 (the same frame
 * as 'spawn': `[u32 LE json length][json][u32 LE args length][args bytes]`), and run it.
 *
 * The orphan guards of bootstrap-spawn.ts hold from the start: the parent-death signal, the parent's pid checked
 * right after it, and EOF on fd 3 (the parent's end closes when it dies), which here is also the idle wait.
 */
import { Socket } from 'node:net';
import { runChild } from './child.js';
import type { SpawnHeader } from './popen-spawn.js';

const parentPid = process.ppid;
for (const stream of [process.stdout, process.stderr]) (stream as any)._handle?.setBlocking?.(true);
try {
  const native = await import('../native/index.js');
  native.loadNative()?.setParentDeathSignal(9);
} catch {
  // No addon: the pid check and the fd 3 EOF still hold.
}
if (process.ppid !== parentPid) process.kill(process.pid, 'SIGKILL');
// The package root: every handle's reviver, the queue, the codec. The target's module, when it imports procq,
// then finds all of it loaded.
await import('../index.js');

const pipe = new Socket({ fd: 3, readable: true, writable: true });
const die = () => process.kill(process.pid, 'SIGKILL');
pipe.on('end', die);
pipe.on('error', die);
let chunks: Buffer[] = [];
let have = 0;
let started = false;
pipe.on('data', (chunk: Buffer) => {
  if (started) return;
  chunks.push(chunk);
  have += chunk.length;
  const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  chunks = [all];
  if (have < 4) return;
  const jsonLength = all.readUInt32LE(0);
  if (have < 8 + jsonLength) return;
  const argsLength = all.readUInt32LE(4 + jsonLength);
  if (have < 8 + jsonLength + argsLength) return;
  started = true;
  chunks = [];
  pipe.unref();
  const { spec, handles, env, cwd } = JSON.parse(all.toString('utf8', 4, 4 + jsonLength)) as SpawnHeader;
  // What a spawned child would have: the parent's environment and working directory at start(), not at warm-up.
  if (env !== undefined) {
    for (const name of Object.keys(process.env)) if (!(name in env)) delete process.env[name];
    Object.assign(process.env, env);
  }
  if (cwd !== undefined && cwd !== process.cwd()) {
    try {
      process.chdir(cwd);
    } catch {
      // Gone since (a spawned child would have inherited the removed directory): stay where we are.
    }
  }
  const bytes = all.subarray(8 + jsonLength, 8 + jsonLength + argsLength);
  void runChild(spec, { bytes, sabs: [], handles });
});
pipe.write('R');
