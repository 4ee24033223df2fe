/**
 * The Redis rows of the matrix (see `redis.ts` for what each impl does), present when `redis-server` is on PATH:
 * spsc of 12-byte strings (single items and batches of 100) and a 4 × 4 job farm, procq against a bare
 * LPUSH/BRPOP loop and BullMQ in the same run.
 */
import type { CaseSpec } from '../lib/spec.js';

type Add = (c: Partial<CaseSpec> & Pick<CaseSpec, 'impl' | 'family' | 'msgs'>) => void;

export function addRedisCases(add: Add, n: (full: number, min?: number) => number): void {
  const r = { family: 'redis', where: 'process' as const, form: 'async' as const };
  const spsc = { ...r, bench: 'redis-spsc' };
  add({ ...spsc, impl: 'procq-redis-async', msgs: n(20_000, 2000) });
  add({ ...spsc, impl: 'redis-lpush-brpop', msgs: n(20_000, 2000) });
  add({ ...spsc, impl: 'bullmq-add', msgs: n(10_000, 500) });
  const batch = { ...r, bench: 'redis-spsc-batch', batch: 100, form: 'batch' as const };
  add({ ...batch, impl: 'procq-redis-batch', msgs: n(200_000, 20_000) });
  add({ ...batch, impl: 'redis-lpush-blmpop', msgs: n(200_000, 20_000) });
  add({ ...batch, impl: 'bullmq-addbulk', msgs: n(20_000, 1000) });
  const farm = {
    ...r,
    bench: 'redis-jobs-4x4',
    producers: 4,
    consumers: 4,
    batch: 100,
    form: 'batch' as const,
  };
  add({ ...farm, impl: 'procq-redis-batch', msgs: n(50_000, 5000) });
  add({ ...farm, impl: 'procq-redis-joinable', msgs: n(20_000, 500) });
  add({ ...farm, impl: 'redis-lpush-blmpop', msgs: n(50_000, 5000) });
  add({ ...farm, impl: 'bullmq-addbulk', msgs: n(5_000, 500) });
}
