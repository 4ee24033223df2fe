/**
 * Startup references: the time from creating a bare `Worker` (or `child_process.fork`) until its first message
 * arrives, each start in a fresh worker or process. Compare with procq's `Process` (`procq.ts`) and CPython's.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { type CaseResult, percentile } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

const CHILD = new URL('./startup-child.js', import.meta.url);

export async function startupBaseline(spec: CaseSpec): Promise<CaseResult> {
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < spec.msgs; i++) {
    const t = performance.now();
    if (spec.where === 'thread') {
      const w = new Worker(CHILD);
      const [m] = await once(w, 'message');
      times.push((performance.now() - t) * 1000);
      if (m !== 'first') throw new Error(`unexpected first message ${m}`);
      await w.terminate();
    } else {
      const c = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const [m] = await once(c, 'message');
      times.push((performance.now() - t) * 1000);
      if (m !== 'first') throw new Error(`unexpected first message ${m}`);
      await once(c, 'exit');
    }
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
