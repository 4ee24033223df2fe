/**
 * `jobs-PxC` over Node's own tools, as a user would build a job farm without procq: P producer and C consumer
 * processes started with `child_process.fork` (`serialization: 'advanced'`), producers sending their jobs to the
 * parent, which deals them to the consumers in turn. Timed like procq's: from the first `fork()` until every
 * consumer has checked its last job.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { mergeTallies } from '../lib/payload.js';
import { type CaseResult, peakRssMb } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

const CHILD = new URL('./ipc-farm-child.js', import.meta.url);

export async function ipcFarm(spec: CaseSpec): Promise<CaseResult> {
  const P = spec.producers;
  const C = spec.consumers;
  const per = spec.msgs;
  const t0 = performance.now();
  const start = (cfg: object) => {
    const c = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.send(cfg);
    return c;
  };
  const consumers = Array.from({ length: C }, () => start({ role: 'consumer', producers: P, per }));
  const producers = Array.from({ length: P }, (_, p) => start({ role: 'producer', first: p * per, n: per }));
  const all: ChildProcess[] = [...consumers, ...producers];
  try {
    const seens: Uint8Array[] = [];
    let rssKb = 0;
    await new Promise<void>((resolve, reject) => {
      for (const c of all)
        c.once('exit', (code) => {
          if (code !== 0) reject(new Error(`ipc farm child exited with ${code}`));
        });
      let next = 0;
      let pdone = 0;
      for (const p of producers)
        p.on('message', (m: any) => {
          if (m === 'pdone') {
            if (++pdone === P) for (const c of consumers) c.send('end');
            return;
          }
          consumers[next]!.send(m);
          next = (next + 1) % C;
        });
      for (const c of consumers)
        c.on('message', (m: any) => {
          if (m.error) return reject(new Error(m.error));
          seens.push(Uint8Array.from(m.seen as Uint8Array));
          rssKb = Math.max(rssKb, m.rssKb);
          if (seens.length === C) resolve();
        });
    });
    const seconds = (performance.now() - t0) / 1000;
    mergeTallies(seens, P * per);
    return {
      bench: spec.bench,
      impl: spec.impl,
      size: spec.size,
      msgs: P * per,
      seconds,
      msgs_per_s: (P * per) / seconds,
      peak_rss_mb: Math.max(peakRssMb(), rssKb / 1024),
    };
  } finally {
    for (const c of all) if (c.exitCode === null) c.kill('SIGKILL');
  }
}
