/**
 * The memory-bandwidth reference for large items: one thread copying `size`-byte blocks with `Buffer.copy`
 * (memmove) between two 64 MiB regions, so the copies miss the caches as a queue's would. A queue moves each item
 * with two such copies (into shared memory, then out), so 50% of this rate is its physical ceiling.
 */
import { performance } from 'node:perf_hooks';
import type { CaseResult } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

export async function memcpyCase(spec: CaseSpec): Promise<CaseResult> {
  const region = 64 * 1024 * 1024;
  const src = Buffer.alloc(region, 1);
  const dst = Buffer.alloc(region, 2);
  const slots = Math.max(1, Math.floor(region / spec.size));
  const t0 = performance.now();
  for (let i = 0; i < spec.msgs; i++) {
    const off = (i % slots) * spec.size;
    src.copy(dst, off, off, off + spec.size);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (dst[0] !== 1) throw new Error('memcpy did not copy');
  return {
    bench: spec.bench,
    impl: spec.impl,
    size: spec.size,
    msgs: spec.msgs,
    seconds,
    msgs_per_s: spec.msgs / seconds,
  };
}
