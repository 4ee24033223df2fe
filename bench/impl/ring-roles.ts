/** Roles for the bare ring (`ring.ts`): producer, consumer, and the two ends of a ping-pong. */
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { checkItem, type Kind, makeBytes, makeObj, makeStr } from '../lib/payload.js';
import type { RoleControl } from '../lib/roles.js';
import { type Mem, RingConsumer, RingProducer, sabMem } from './ring.js';

export type MemRef = { kind: 'sab'; sab: SharedArrayBuffer } | { kind: 'shm'; handle: unknown };

export interface RingArgs {
  mem: MemRef;
  cap: number;
  n: number;
  kind: Kind;
  size: number;
  every: number;
  spin: number;
}

async function attach(ref: MemRef): Promise<Mem> {
  if (ref.kind === 'sab') return sabMem(ref.sab);
  const memory = await import('../../src/memory/index.js');
  return memory.attachSegment(ref.handle as Parameters<typeof memory.attachSegment>[0]);
}

export async function ringProducer(ctl: RoleControl, a: RingArgs): Promise<number> {
  const p = new RingProducer(await attach(a.mem), a.cap, a.every, a.spin);
  await ctl.ready();
  const { n, size } = a;
  if (a.kind === 'str') for (let i = 0; i < n; i++) p.putStr(makeStr(i));
  else if (a.kind === 'bytes') for (let i = 0; i < n; i++) p.putBytes(makeBytes(size, i));
  else for (let i = 0; i < n; i++) p.putBytes(v8.serialize(makeObj(i)));
  p.flush();
  return n;
}

export async function ringConsumer(ctl: RoleControl, a: RingArgs): Promise<number> {
  const m = await attach(a.mem);
  const c = new RingConsumer(m, a.cap, a.every, a.spin);
  await ctl.ready();
  const { n, size, kind } = a;
  if (kind === 'str') for (let i = 0; i < n; i++) checkItem(kind, size, i, c.getStr());
  else if (kind === 'bytes') for (let i = 0; i < n; i++) checkItem(kind, size, i, c.getBytes());
  else {
    for (let i = 0; i < n; i++) {
      const off = c.next();
      const o = v8.deserialize(m.bytes.subarray(off, off + c.len));
      c.release();
      checkItem(kind, size, i, o);
    }
  }
  c.flush();
  return n;
}

export interface PingArgs {
  ping: MemRef;
  pong: MemRef;
  cap: number;
  n: number;
  spin: number;
}

/** Sends a 12-byte string, waits for its echo; returns each round trip in microseconds. */
export async function ringPinger(ctl: RoleControl, a: PingArgs): Promise<Float64Array> {
  const out = new RingProducer(await attach(a.ping), a.cap, 1, a.spin);
  const back = new RingConsumer(await attach(a.pong), a.cap, 1, a.spin);
  const rtt = new Float64Array(a.n);
  await ctl.ready();
  for (let i = 0; i < a.n; i++) {
    const t = performance.now();
    out.putStr(makeStr(i));
    const s = back.getStr();
    rtt[i] = (performance.now() - t) * 1000;
    checkItem('str', 12, i, s);
  }
  return rtt;
}

export async function ringPonger(ctl: RoleControl, a: PingArgs): Promise<number> {
  const inp = new RingConsumer(await attach(a.ping), a.cap, 1, a.spin);
  const out = new RingProducer(await attach(a.pong), a.cap, 1, a.spin);
  await ctl.ready();
  for (let i = 0; i < a.n; i++) out.putStr(inp.getStr());
  return a.n;
}
