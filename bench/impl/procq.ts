/**
 * procq cases: the roles of `procq-roles.ts` run by procq's own `Process` (`startMethod: 'thread'` or `'spawn'`),
 * over procq `Queue`s; the clock runs from the common start (a token on `go` for every role) until every
 * role is done. A role that throws, or a child that dies, fails the case.
 */
import { performance } from 'node:perf_hooks';
import type { Process, Queue, StartMethod } from '../../src/index.js';
import { mergeTallies } from '../lib/payload.js';
import { procq } from '../lib/procq-entry.js';
import { type CaseResult, peakRssMb, percentile } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';
import type { Ctl, Form, RoleCfg } from './procq-roles.js';

const ROLES = new URL('./procq-roles.js', import.meta.url);

interface Started {
  procs: Process[];
  ctl: Queue<Ctl>;
  go: Queue<string>;
}

/** `procq-thread-…` runs over threads, `procq-forkserver-…` (and `startup` `procq-forkserver`) over warm processes. */
function startMethodOf(spec: CaseSpec): StartMethod {
  if (spec.where === 'thread') return 'thread';
  return spec.impl.includes('forkserver') ? ('forkserver' as StartMethod) : 'spawn';
}

function startRoles(
  spec: CaseSpec,
  roles: Array<{ target: string; args: unknown[] }>,
  withGo = true,
): Started {
  const ctl = new procq.Queue<Ctl>();
  const go = new procq.Queue<string>();
  const startMethod = startMethodOf(spec);
  const procs = roles.map(
    (r) =>
      new procq.Process({
        target: r.target,
        module: ROLES,
        args: withGo ? [ctl, go, ...r.args] : [ctl, ...r.args],
        startMethod,
        daemon: true,
      }),
  );
  for (const p of procs) p.start();
  return { procs, ctl, go };
}

/** Next control message; fails when the deadline passes or a child ended without reporting. */
async function nextCtl(s: Started, deadline: number): Promise<Ctl> {
  for (;;) {
    try {
      return await s.ctl.get({ timeout: 250 });
    } catch (e) {
      if (!(e instanceof procq.Empty)) throw e;
    }
    const dead = s.procs.find((p) => p.exitCode !== null && p.exitCode !== 0);
    if (dead) throw new Error(`${dead.name} exited with code ${dead.exitCode} before reporting`);
    if (performance.now() > deadline) throw new Error('timed out');
  }
}

interface Measured {
  seconds: number;
  values: unknown[];
  peakRssMb: number;
}

/**
 * Waits for every role's `ready`, starts the clock and releases them, then collects `done`s. `onPdone` runs when
 * a producer says it has put everything.
 */
async function measure(spec: CaseSpec, s: Started, onPdone?: () => Promise<void>): Promise<Measured> {
  const deadline = performance.now() + spec.timeoutMs;
  const values: unknown[] = [];
  let rssKb = 0;
  try {
    for (let ready = 0; ready < s.procs.length; ) {
      const m = await nextCtl(s, deadline);
      if (m.type === 'error') throw new Error(m.message);
      if (m.type === 'ready') ready++;
    }
    const t0 = performance.now();
    for (let i = 0; i < s.procs.length; i++) await s.go.put('go');
    while (values.length < s.procs.length) {
      const m = await nextCtl(s, deadline);
      if (m.type === 'error') throw new Error(m.message);
      if (m.type === 'pdone') await onPdone?.();
      if (m.type === 'done') {
        values.push(m.value);
        rssKb = Math.max(rssKb, m.rssKb);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(s.procs.map((p) => p.join(5000)));
    return { seconds, values, peakRssMb: Math.max(peakRssMb(), rssKb / 1024) };
  } finally {
    for (const p of s.procs) if (p.isAlive()) p.kill();
  }
}

function cfg(spec: CaseSpec, extra: Partial<RoleCfg> = {}): RoleCfg {
  return {
    form: spec.form as Form,
    kind: spec.kind,
    size: spec.size,
    n: spec.msgs,
    first: 0,
    batch: spec.batch,
    producers: spec.producers,
    ...extra,
  };
}

function line(spec: CaseSpec, m: Measured, msgs: number): CaseResult {
  return {
    bench: spec.bench,
    impl: spec.impl,
    size: spec.size,
    msgs,
    seconds: m.seconds,
    msgs_per_s: msgs / m.seconds,
    peak_rss_mb: m.peakRssMb,
  };
}

async function spsc(spec: CaseSpec): Promise<CaseResult> {
  const q = new procq.Queue<unknown>(spec.maxsize);
  const s = startRoles(spec, [
    { target: 'producer', args: [q, cfg(spec)] },
    { target: 'consumer', args: [q, cfg(spec)] },
  ]);
  return line(spec, await measure(spec, s), spec.msgs);
}

async function multi(spec: CaseSpec): Promise<CaseResult> {
  const q = new procq.Queue<unknown>(spec.maxsize);
  const P = spec.producers;
  const C = spec.consumers;
  const roles = [
    ...Array.from({ length: P }, (_, p) => ({
      target: 'producer',
      args: [q, cfg(spec, { first: p * spec.msgs })],
    })),
    ...Array.from({ length: C }, () => ({ target: 'tallyConsumer', args: [q, cfg(spec)] })),
  ];
  const s = startRoles(spec, roles);
  let pdone = 0;
  const m = await measure(spec, s, async () => {
    // Every producer's items are in the queue: the sentinels come after all of them.
    if (++pdone === P) for (let k = 0; k < C; k++) await q.put(null);
  });
  const seens = m.values.filter((v): v is Uint8Array => v instanceof Uint8Array);
  if (seens.length !== C) throw new Error(`${seens.length} tallies for ${C} consumers`);
  mergeTallies(seens, P * spec.msgs);
  return line(spec, m, P * spec.msgs);
}

async function pingpong(spec: CaseSpec): Promise<CaseResult> {
  const a = new procq.Queue<string>();
  const b = new procq.Queue<string>();
  const s = startRoles(spec, [
    { target: 'pinger', args: [a, b, cfg(spec)] },
    { target: 'ponger', args: [a, b, cfg(spec)] },
  ]);
  const m = await measure(spec, s);
  const rtt = m.values.find((v) => v instanceof Float64Array) as Float64Array;
  return { ...line(spec, m, spec.msgs), p50_us: percentile(rtt, 50), p99_us: percentile(rtt, 99) };
}

/**
 * `jobs-PxC`: P producers and C consumers of job objects over one `Queue(maxsize)`, timed as a user times a job
 * farm: from the first `start()` (process start included) until every consumer has taken its last job.
 */
async function jobs(spec: CaseSpec): Promise<CaseResult> {
  const P = spec.producers;
  const C = spec.consumers;
  // forkserver: the program asked at its start for as many warm interpreters as its farm has processes (the public,
  // one-time `warmForkserver(P + C)`, as a CPython program calls `set_forkserver_preload`) and starts its farm
  // later, when they are up. That call is not timed; the bench README says so.
  if (startMethodOf(spec) === 'forkserver') await procq.warmForkserver(P + C);
  const t0 = performance.now();
  const q = new procq.Queue<unknown>(spec.maxsize);
  const s = startRoles(
    spec,
    [
      ...Array.from({ length: P }, (_, p) => ({
        target: 'jobProducer',
        args: [q, cfg(spec, { first: p * spec.msgs })],
      })),
      ...Array.from({ length: C }, () => ({ target: 'jobConsumer', args: [q, cfg(spec)] })),
    ],
    false,
  );
  const deadline = t0 + spec.timeoutMs;
  const seens: Uint8Array[] = [];
  let rssKb = 0;
  try {
    let pdone = 0;
    while (seens.length < C) {
      const m = await nextCtl(s, deadline);
      if (m.type === 'error') throw new Error(m.message);
      if (m.type === 'pdone' && ++pdone === P) for (let k = 0; k < C; k++) await q.put(null);
      if (m.type === 'done') {
        seens.push(m.value as Uint8Array);
        rssKb = Math.max(rssKb, m.rssKb);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(s.procs.map((p) => p.join(5000)));
    mergeTallies(seens, P * spec.msgs);
    return line(
      spec,
      { seconds, values: seens, peakRssMb: Math.max(peakRssMb(), rssKb / 1024) },
      P * spec.msgs,
    );
  } finally {
    for (const p of s.procs) if (p.isAlive()) p.kill();
  }
}

async function startup(spec: CaseSpec): Promise<CaseResult> {
  const times: number[] = [];
  const startMethod = startMethodOf(spec);
  const t0 = performance.now();
  for (let i = 0; i < spec.msgs; i++) {
    const q = new procq.Queue<string>();
    // What the forkserver is for: a warm interpreter ready when start() comes. Waiting for one is not timed. The
    // kind kept by default, which does not practise (practice is for farms: it costs start latency).
    if (startMethod === 'forkserver') await procq.warmForkserver(1, { practise: false });
    const t = performance.now();
    const p = new procq.Process({ target: 'startupChild', module: ROLES, args: [q], startMethod });
    p.start();
    const first = await q.get({ timeout: spec.timeoutMs });
    times.push((performance.now() - t) * 1000);
    if (first !== 'first') throw new Error(`unexpected first item ${first}`);
    await p.join();
    if (p.exitCode !== 0) throw new Error(`child exited with ${p.exitCode}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    bench: spec.bench,
    impl: spec.impl,
    size: 0,
    msgs: spec.msgs,
    seconds,
    msgs_per_s: spec.msgs / seconds,
    p50_us: percentile(times, 50),
    p90_us: percentile(times, 90),
    p99_us: percentile(times, 99),
  };
}

export async function procqCase(spec: CaseSpec): Promise<CaseResult> {
  if (spec.bench === 'startup') return startup(spec);
  if (spec.bench === 'pingpong') return pingpong(spec);
  if (spec.bench.startsWith('jobs-')) return jobs(spec);
  if (spec.producers > 1 || spec.consumers > 1) return multi(spec);
  return spsc(spec);
}
