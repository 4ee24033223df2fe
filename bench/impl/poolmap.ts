/**
 * `poolmap`: `map` of `msgs` small tasks (`x => x * x`) over a pool of 2 workers, started and warmed by one small
 * map before the clock starts; timed from the call to the last result. procq's `Pool` (processes or threads), and
 * piscina (worker threads; one `run` per item, as it is used) when it is installed. CPython's `Pool.map` is in
 * `python_baseline.py`.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from '../../src/index.js';
import type { CaseResult } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

const TASKS = new URL('./pool-tasks.js', import.meta.url);
export const POOL_WORKERS = 2;

function check(results: number[], n: number): void {
  if (results.length !== n) throw new Error(`${results.length} results for ${n} tasks`);
  for (let i = 0; i < n; i++) if (results[i] !== i * i) throw new Error(`result ${i}: ${results[i]}`);
}

function result(spec: CaseSpec, seconds: number): CaseResult {
  return {
    bench: spec.bench,
    impl: spec.impl,
    size: 0,
    msgs: spec.msgs,
    seconds,
    msgs_per_s: spec.msgs / seconds,
  };
}

export async function poolMap(spec: CaseSpec): Promise<CaseResult> {
  const items = Array.from({ length: spec.msgs }, (_, i) => i);
  const fn = { module: TASKS, name: 'square' };
  if (spec.impl === 'piscina') {
    const { Piscina } = await import('piscina');
    const pool = new Piscina({
      filename: TASKS.href,
      name: 'square',
      minThreads: POOL_WORKERS,
      maxThreads: POOL_WORKERS,
    });
    try {
      await Promise.all([0, 1, 2, 3].map((x) => pool.run(x)));
      const t0 = performance.now();
      const out = (await Promise.all(items.map((x) => pool.run(x)))) as number[];
      const seconds = (performance.now() - t0) / 1000;
      check(out, spec.msgs);
      return result(spec, seconds);
    } finally {
      await pool.destroy();
    }
  }
  const startMethod =
    spec.where === 'thread' ? 'thread' : spec.impl.includes('forkserver') ? 'forkserver' : 'spawn';
  const pool = new Pool({ processes: POOL_WORKERS, startMethod: startMethod as 'spawn' });
  try {
    await pool.map(fn, [0, 1, 2, 3]);
    const t0 = performance.now();
    const out = await pool.map<number>(fn, items);
    const seconds = (performance.now() - t0) / 1000;
    check(out, spec.msgs);
    return result(spec, seconds);
  } finally {
    pool.terminate();
    await pool.join();
  }
}
