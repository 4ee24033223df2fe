/**
 * Node's own way between processes: the `child_process` IPC channel (`fork`, `process.send`), with
 * `serialization: 'json'` or `'advanced'` (structured clone). The parent sends every item, the child checks each
 * and acknowledges at the end; `pingpong`: the child echoes each item.
 */
import { type ChildProcess, fork, type Serializable } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { checkItem, makeItem } from '../lib/payload.js';
import { type CaseResult, peakRssMb, percentile } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

function serialization(spec: CaseSpec): 'json' | 'advanced' {
  return spec.impl.endsWith('json') ? 'json' : 'advanced';
}

async function start(spec: CaseSpec, mode: 'ack' | 'pingpong'): Promise<ChildProcess> {
  const c = fork(new URL('./ipc-child.js', import.meta.url), [], {
    serialization: serialization(spec),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  c.send({ mode, n: spec.msgs, kind: spec.kind, size: spec.size });
  await once(c, 'message');
  return c;
}

function exited(c: ChildProcess): Promise<never> {
  return new Promise((_, reject) =>
    c.once('exit', (code) => reject(new Error(`ipc child exited (${code})`))),
  );
}

export async function ipcSpsc(spec: CaseSpec): Promise<CaseResult> {
  if (spec.kind === 'bytes' && serialization(spec) === 'json') throw new Error('json cannot carry bytes');
  const c = await start(spec, 'ack');
  const { msgs: n, kind, size } = spec;
  const done = once(c, 'message');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) c.send(makeItem(kind, size, i) as Serializable);
  const [m] = await Promise.race([done, exited(c)]);
  const seconds = (performance.now() - t0) / 1000;
  const { rssKb } = m as { rssKb: number };
  c.kill();
  return {
    bench: spec.bench,
    impl: spec.impl,
    size,
    msgs: n,
    seconds,
    msgs_per_s: n / seconds,
    peak_rss_mb: Math.max(peakRssMb(), rssKb / 1024),
  };
}

export async function ipcPingpong(spec: CaseSpec): Promise<CaseResult> {
  const c = await start(spec, 'pingpong');
  const n = spec.msgs;
  const rtt = new Float64Array(n);
  let reply: ((m: unknown) => void) | undefined;
  c.on('message', (m) => reply!(m));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const back = new Promise((r) => (reply = r));
    c.send(makeItem('str', 12, i) as Serializable);
    const m = await back;
    rtt[i] = (performance.now() - t) * 1000;
    checkItem('str', 12, i, m);
  }
  const seconds = (performance.now() - t0) / 1000;
  c.kill();
  return {
    bench: spec.bench,
    impl: spec.impl,
    size: 12,
    msgs: n,
    seconds,
    msgs_per_s: n / seconds,
    p50_us: percentile(rtt, 50),
    p99_us: percentile(rtt, 99),
  };
}
