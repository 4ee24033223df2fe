/**
 * The bare ring cases: spsc between two fresh worker threads (over a `SharedArrayBuffer`) or two fresh child
 * processes (over a procq shm segment with a futex, when the native addon is built), and ping-pong over two rings.
 */
import { type CaseResult, percentile } from '../lib/result.js';
import { type RoleSpec, runRoles } from '../lib/roles.js';
import type { CaseSpec } from '../lib/spec.js';
import { ringBytes } from './ring.js';
import type { MemRef, PingArgs, RingArgs } from './ring-roles.js';

const ROLES = new URL('./ring-roles.js', import.meta.url).href;

interface Owned {
  ref: MemRef;
  dispose(): void;
}

async function makeMem(where: 'thread' | 'process', bytes: number): Promise<Owned> {
  if (where === 'thread') return { ref: { kind: 'sab', sab: new SharedArrayBuffer(bytes) }, dispose() {} };
  const memory = await import('../../src/memory/index.js');
  const seg = memory.createSegment(bytes, 'shm') as unknown as { handle(): unknown; close?(): void };
  return { ref: { kind: 'shm', handle: seg.handle() }, dispose: () => seg.close?.() };
}

export async function ringSpsc(spec: CaseSpec): Promise<CaseResult> {
  const itemMax = spec.kind === 'str' ? 64 : spec.kind === 'obj' ? 256 : spec.size + 8;
  const { cap, total } = ringBytes(Math.max(256 * 1024, 8 * itemMax));
  const mem = await makeMem(spec.where, total);
  try {
    const args: RingArgs = {
      mem: mem.ref,
      cap,
      n: spec.msgs,
      kind: spec.kind,
      size: spec.size,
      every: spec.every,
      spin: spec.spin,
    };
    const role = (fn: string): RoleSpec => ({ where: spec.where, module: ROLES, fn, args });
    const out = await runRoles([role('ringProducer'), role('ringConsumer')], spec.timeoutMs);
    return {
      bench: spec.bench,
      impl: spec.impl,
      size: spec.size,
      msgs: spec.msgs,
      seconds: out.seconds,
      msgs_per_s: spec.msgs / out.seconds,
      peak_rss_mb: out.peakRssMb,
    };
  } finally {
    mem.dispose();
  }
}

export async function ringPingpong(spec: CaseSpec): Promise<CaseResult> {
  const { cap, total } = ringBytes(4096);
  const ping = await makeMem(spec.where, total);
  const pong = await makeMem(spec.where, total);
  try {
    const args: PingArgs = { ping: ping.ref, pong: pong.ref, cap, n: spec.msgs, spin: spec.spin };
    const role = (fn: string): RoleSpec => ({ where: spec.where, module: ROLES, fn, args });
    const out = await runRoles([role('ringPinger'), role('ringPonger')], spec.timeoutMs);
    const rtt = out.values[0] as Float64Array;
    return {
      bench: spec.bench,
      impl: spec.impl,
      size: 12,
      msgs: spec.msgs,
      seconds: out.seconds,
      msgs_per_s: spec.msgs / out.seconds,
      p50_us: percentile(rtt, 50),
      p99_us: percentile(rtt, 99),
    };
  } finally {
    ping.dispose();
    pong.dispose();
  }
}
