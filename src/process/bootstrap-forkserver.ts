/**
 * Entry point of a forkserver's warm child (see popen-forkserver.ts): load everything a child needs, say so with
 * one byte on fd 3, then sleep in the event loop until the parent sends the child's frame on fd 3 (the same frame
 * as 'spawn': `[u32 LE json length][json][u32 LE args length][args bytes]`), and run it.
 *
 * The orphan guards of bootstrap-spawn.ts hold from the start: the parent-death signal, the parent's pid checked
 * right after it, and EOF on fd 3 (the parent's end closes when it dies), which here is also the idle wait.
 */
import { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeValue, encodeValue } from '../codec/index.js';
import { pidNamespace } from '../memory/shm-segment.js';
import { loadNative } from '../native/index.js';
import type { Queue } from '../queue/queue.js';
import { runChild } from './child.js';
import { trackWorkers } from './nondaemon.js';
import type { SpawnHeader } from './popen-spawn.js';

/**
 * Rounds of `practise`: enough for V8 to optimize the queue's and codec's hot functions (see below). Measured
 * (a producer's CPU for 10,000 job objects after the start; the warm-up from spawn to ready): no practice 130 ms
 * and 180 ms; 250 rounds 53-66 ms and 275 ms; 1,000 rounds 39-50 ms and 325 ms; 2,000 no better.
 */
const PRACTICE_ROUNDS = 1000;

const parentPid = process.ppid;
for (const stream of [process.stdout, process.stderr]) (stream as any)._handle?.setBlocking?.(true);
try {
  loadNative()?.setParentDeathSignal(9);
} catch {
  // No addon: the pid check and the fd 3 EOF still hold.
}
if (process.ppid !== parentPid) process.kill(process.pid, 'SIGKILL');
// The package root: every handle's reviver, the queue, the codec. The target's module, when it imports procq,
// then finds all of it loaded.
const procq = await import('../index.js');
await rehearse(procq.Queue);
// Done once per process whatever the target: wrapping Worker (its syncBuiltinESMExports() walks every built-in
// module) and the pid namespace in shared-memory names (two readlinks, on the first attach otherwise).
trackWorkers();
pidNamespace();
collectGarbage();

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
  const { spec, handles, envSet, envUnset, cwd } = JSON.parse(
    all.toString('utf8', 4, 4 + jsonLength),
  ) as SpawnHeader;
  // What a spawned child would have: the parent's environment and working directory at start(), not at warm-up.
  for (const name of envUnset ?? []) delete process.env[name];
  if (envSet !== undefined) Object.assign(process.env, envSet);
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
// Ready once practised, when asked to (a start that comes sooner, to a child taken while booting, stops it).
if (process.argv.includes('--practise')) {
  await practise(procq.Queue);
  if (!started) collectGarbage();
}
pipe.write('R');

/**
 * Runs the queue's hot paths, every form (sync, async, batch), with items of several kinds, until V8 has
 * optimized them, so that a started child's first thousands of items do not run in V8's interpreter. Without it, a
 * producer of job objects spent about 110 ms of CPU beyond its per-item cost (2,000 items: 45 ms; 10,000: 130 ms;
 * 150,000: 350 ms), and a consumer 80 ms: each process of a job farm paid V8's warm-up on its own items. The
 * same `SharedArrayBuffer` queue as `rehearse` (nothing in /dev/shm); stops at once when a start arrives, and
 * yields to the event loop between rounds so that the start frame is read.
 */
async function practise(QueueClass: typeof Queue): Promise<void> {
  const had = process.env.PROCQ_SEGMENT;
  process.env.PROCQ_SEGMENT = 'sab';
  let q: Queue<unknown>;
  try {
    q = new QueueClass<unknown>();
  } catch {
    return;
  } finally {
    if (had === undefined) delete process.env.PROCQ_SEGMENT;
    else process.env.PROCQ_SEGMENT = had;
  }
  const kinds = [
    (i: number) => ({ n: i, label: `practice ${i}`, list: [i, 'x', true], nested: { ok: i % 2 === 0 } }),
    (i: number) => ({ key: `k${i}`, value: i * 0.5 }),
    (i: number) => [i, `item ${i}`, null],
    (i: number) => `practice item ${i}`,
    (i: number) => i,
  ];
  try {
    for (let round = 0; round < PRACTICE_ROUNDS && !started; round++) {
      const make = kinds[round % kinds.length]!;
      q.putSync(make(round));
      q.getSync();
      await q.put(make(round + 1));
      await q.get();
      const batch = [];
      for (let i = 0; i < 16; i++) batch.push(make(round + i));
      await q.putMany(batch);
      await q.getMany(16);
      q.putManySync(batch);
      q.getManySync(16);
      if (round % 8 === 7) await new Promise(setImmediate);
    }
  } catch {
    // A practice only: the child works without it.
  } finally {
    q.close();
  }
}

/**
 * A full garbage collection while idle, so that the child starts its work with an empty young generation: without
 * it, the allocations of the first milliseconds after the start (the frame, the target's import, the attach) met
 * a nearly full one and paid a scavenge (3 ms, `--trace-gc`) between the start and the first item. `gc` is
 * reached through a throw-away context, so the target's own global never has it.
 */
function collectGarbage(): void {
  try {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    // Not available in this Node: the child only starts a little slower.
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * What nearly every child does first, done once while idle: receive a queue among its arguments and put an item
 * on it. V8 compiles a function on its first call, so this compiles the codec, the queue's attach and its put and
 * get before any start, instead of between the start and the first item (2 ms of CPU of the 7.7 ms a warm child
 * spent from its frame to its first item, measured with `process.cpuUsage()`). The queue lives in a
 * `SharedArrayBuffer` (`PROCQ_SEGMENT=sab` for its creation only): no /dev/shm file, nothing listed by
 * `procq ls`, nothing left behind.
 */
async function rehearse(QueueClass: typeof Queue): Promise<void> {
  const had = process.env.PROCQ_SEGMENT;
  process.env.PROCQ_SEGMENT = 'sab';
  try {
    const q = new QueueClass<unknown>();
    const [received] = decodeValue(encodeValue([q, 'args'])) as [Queue<unknown>];
    await received.put('rehearsal');
    q.getNowait();
    received.close();
    q.close();
  } catch {
    // A rehearsal only: the child works without it.
  } finally {
    if (had === undefined) delete process.env.PROCQ_SEGMENT;
    else process.env.PROCQ_SEGMENT = had;
  }
}
