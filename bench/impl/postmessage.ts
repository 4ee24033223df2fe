/**
 * Node's own way between threads: `postMessage` from the main thread to a worker.
 * - `ack`: the main thread posts every item, the worker checks each and acknowledges once at the end. Unbounded:
 *   the backlog lives in the port's queue (see `peak_rss_mb`).
 * - `credit`: a bounded comparison. At most `window` items are in flight; the worker returns credit every
 *   `ceil(window / 2)` items, and the main thread awaits credit when it has none (what a bounded queue does).
 * - `pingpong`: the worker echoes each item; round trips are timed one by one.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { checkItem, makeItem } from '../lib/payload.js';
import { type CaseResult, peakRssMb, percentile } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

function start(spec: CaseSpec, mode: 'ack' | 'credit' | 'pingpong'): Worker {
  return new Worker(new URL('./postmessage-worker.js', import.meta.url), {
    workerData: { mode, n: spec.msgs, kind: spec.kind, size: spec.size, window: spec.maxsize },
  });
}

export async function postMessageSpsc(spec: CaseSpec): Promise<CaseResult> {
  const mode = spec.maxsize > 0 ? 'credit' : 'ack';
  const w = start(spec, mode);
  const failed = new Promise<never>((_, reject) => w.once('error', reject));
  await once(w, 'message'); // ready
  const { msgs: n, kind, size } = spec;
  let acked = 0;
  let wake: (() => void) | undefined;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  w.on('message', (m: number) => {
    acked = m;
    if (m === n) finished();
    wake?.();
  });
  const t0 = performance.now();
  if (mode === 'ack') {
    for (let i = 0; i < n; i++) w.postMessage(makeItem(kind, size, i));
  } else {
    const window = spec.maxsize;
    for (let i = 0; i < n; i++) {
      while (i - acked >= window) await new Promise<void>((r) => (wake = r));
      w.postMessage(makeItem(kind, size, i));
    }
  }
  await Promise.race([done, failed]);
  const seconds = (performance.now() - t0) / 1000;
  await w.terminate();
  return result(spec, seconds);
}

export async function postMessagePingpong(spec: CaseSpec): Promise<CaseResult> {
  const w = start(spec, 'pingpong');
  await once(w, 'message');
  const n = spec.msgs;
  const rtt = new Float64Array(n);
  let reply: ((m: unknown) => void) | undefined;
  w.on('message', (m) => reply!(m));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const back = new Promise((r) => (reply = r));
    w.postMessage(makeItem('str', 12, i));
    const m = await back;
    rtt[i] = (performance.now() - t) * 1000;
    checkItem('str', 12, i, m);
  }
  const seconds = (performance.now() - t0) / 1000;
  await w.terminate();
  return { ...result(spec, seconds), p50_us: percentile(rtt, 50), p99_us: percentile(rtt, 99) };
}

function result(spec: CaseSpec, seconds: number): CaseResult {
  return {
    bench: spec.bench,
    impl: spec.impl,
    size: spec.size,
    msgs: spec.msgs,
    seconds,
    msgs_per_s: spec.msgs / seconds,
    peak_rss_mb: peakRssMb(),
  };
}
