/** What one case measures; built by `cases.ts`, run by `case.ts` in a fresh process (or by `python.ts`). */
import type { Kind } from './payload.js';

export interface CaseSpec {
  /** Workload name printed as `bench=` (spsc, spsc-obj, mpsc-4x1, mpmc-2x2, pingpong, bounded-3, startup …). */
  bench: string;
  /** Implementation name printed as `impl=`. */
  impl: string;
  /** Which runner function measures it (see `case.ts`). */
  family: string;
  kind: Kind;
  /** Item size in bytes, printed as `size=`. */
  size: number;
  /** Items per producer (for spsc: items; for pingpong: round trips; for startup: starts). */
  msgs: number;
  producers: number;
  consumers: number;
  /** Queue bound, or postMessage credit window; 0: unbounded. */
  maxsize: number;
  /** Items per `putMany`/`getMany` call (batch forms); 1 otherwise. */
  batch: number;
  /** Where the peers run. */
  where: 'thread' | 'process';
  /**
   * Form of the calls for procq: async (`put`/`get`), sync (`putSync`/`getSync`), batch, into (`putSync`, then
   * `getIntoSync` into one reused buffer).
   */
  form: 'async' | 'sync' | 'batch' | 'batch-sync' | 'into';
  /** Spin-poll count before sleeping (bare ring), publish-every for the bare ring. */
  spin: number;
  every: number;
  timeoutMs: number;
}
