/**
 * From the results of one run: the ratios procq / each alternative, and the targets of issues 2, 3 and 4 as
 * PASS / MISS lines (informative only: speed never fails a run, shared machines are noisy).
 */
import type { CaseResult } from './lib/result.js';

export const isProcq = (impl: string) => impl.startsWith('procq-');
/** Latency workloads compare p50 (lower is better); the others msgs/s (higher is better). */
export const isLatency = (bench: string) => bench === 'pingpong' || bench === 'startup';

export interface Ratio {
  bench: string;
  size: number;
  procq: string;
  alt: string;
  /** > 1: procq is better (faster throughput, or shorter p50). */
  ratio: number;
}

export function groupKey(r: { bench: string; size: number }): string {
  return `${r.bench} size=${r.size}`;
}

export function groups(results: CaseResult[]): Map<string, CaseResult[]> {
  const g = new Map<string, CaseResult[]>();
  for (const r of results) {
    const k = groupKey(r);
    if (!g.has(k)) g.set(k, []);
    g.get(k)!.push(r);
  }
  return g;
}

export function ratios(results: CaseResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const rs of groups(results).values()) {
    for (const p of rs.filter((r) => isProcq(r.impl))) {
      for (const a of rs.filter((r) => !isProcq(r.impl))) {
        const ratio = isLatency(p.bench) ? a.p50_us! / p.p50_us! : p.msgs_per_s / a.msgs_per_s;
        out.push({ bench: p.bench, size: p.size, procq: p.impl, alt: a.impl, ratio });
      }
    }
  }
  return out;
}

const us = (x: number) => `${Number(x.toPrecision(3))} us`;
const fmtRatio = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** One text table per workload: rows = alternatives, columns = procq implementations. */
export function ratioTables(results: CaseResult[]): string[] {
  const lines: string[] = [];
  for (const [key, rs] of groups(results)) {
    const ps = rs.filter((r) => isProcq(r.impl));
    const alts = rs.filter((r) => !isProcq(r.impl));
    if (ps.length === 0 || alts.length === 0) continue;
    const what = isLatency(rs[0]!.bench) ? 'alt p50 / procq p50' : 'procq msgs/s / alt msgs/s';
    lines.push(`ratios ${key}: ${what} (> 1: procq better; thr/proc = procq over threads/processes)`);
    const w0 = Math.max(16, ...alts.map((a) => a.impl.length)) + 2;
    const cols = ps.map((p) =>
      p.impl
        .replace('procq-', '')
        .replace('thread-', 'thr-')
        .replace('process-', 'proc-')
        .replace('batch-sync', 'bsync'),
    );
    const w = Math.max(9, ...cols.map((c) => c.length)) + 2;
    lines.push(`  ${'vs'.padEnd(w0)}${cols.map((c) => c.padStart(w)).join('')}`);
    for (const a of alts) {
      const cells = ps.map((p) =>
        fmtRatio(isLatency(p.bench) ? a.p50_us! / p.p50_us! : p.msgs_per_s / a.msgs_per_s).padStart(w),
      );
      lines.push(`  ${a.impl.padEnd(w0)}${cells.join('')}`);
    }
  }
  return lines;
}

export interface TargetCheck {
  status: 'PASS' | 'MISS' | 'SKIP';
  text: string;
  /** Names the check across runs (`--compare`): the label and the implementations, without figures. */
  key?: string;
  /** The figure alone (`1.8x`, `p50 7 ms`), shown beside another run's with `--compare`. */
  value?: string;
}

export interface TargetOptions {
  /** Busy-looping processes that ran beside every case (`--load N`): some goals differ under load. */
  load?: number;
}

/** The alternatives no procq case should fall below, under load as quiet (issue 7): same workload, same run. */
const FLOOR_ALTS = ['postmessage-ack', 'postmessage-credit', 'py-queue', 'py-queue-spawn'];

export function targets(results: CaseResult[], opts: TargetOptions = {}): TargetCheck[] {
  const loaded = (opts.load ?? 0) > 0;
  const find = (bench: string, impl: string, size = 12) =>
    results.find((r) => r.bench === bench && r.impl === impl && r.size === size);
  const out: TargetCheck[] = [];
  const ratio = (
    label: string,
    bench: string,
    size: number,
    pImpl: string,
    aImpl: string,
    goal: number,
    how: 'rate' | 'p50' | 'p50-max',
  ) => {
    const p = find(bench, pImpl, size);
    const a = find(bench, aImpl, size);
    if (!p || !a) {
      // Say so only when half the pair ran (a --filter that selects neither is not a skip).
      if (p || a) out.push({ status: 'SKIP', text: `${label}: ${p ? aImpl : pImpl} not measured` });
      return;
    }
    let value: number;
    let ok: boolean;
    let shown: string;
    if (how === 'rate') {
      value = p.msgs_per_s / a.msgs_per_s;
      ok = value >= goal;
      shown = `${fmtRatio(value)}x (goal >= ${goal}x)`;
    } else if (how === 'p50') {
      value = a.p50_us! / p.p50_us!; // how many times shorter procq's p50 is
      ok = value >= goal;
      shown = `p50 ${us(p.p50_us!)} vs ${us(a.p50_us!)} = 1/${fmtRatio(value)} (goal <= 1/${goal})`;
    } else {
      value = p.p50_us! / a.p50_us!; // procq's p50 as a multiple of the reference
      ok = value <= goal;
      shown = `p50 ${us(p.p50_us!)} vs ${us(a.p50_us!)} = ${fmtRatio(value)}x (goal <= ${goal}x)`;
    }
    out.push({
      status: ok ? 'PASS' : 'MISS',
      text: `${label}: ${pImpl} vs ${aImpl}: ${shown}`,
      key: `${label}: ${pImpl} vs ${aImpl}`,
      value: shown.replace(/ \(goal.*$/, ''),
    });
  };

  // issue 4 (and issue 3): across processes
  for (const f of ['async', 'sync'])
    ratio('spsc 12 B processes', 'spsc', 12, `procq-process-${f}`, 'py-queue', 10, 'rate');
  ratio('spsc 12 B processes, batch', 'spsc', 12, 'procq-process-batch', 'py-queue', 20, 'rate');
  // issue 4 (and issue 2): across threads
  for (const f of ['async', 'sync'])
    ratio('spsc 12 B threads', 'spsc', 12, `procq-thread-${f}`, 'postmessage-ack', 3, 'rate');
  ratio('spsc 12 B threads, batch', 'spsc', 12, 'procq-thread-batch', 'postmessage-ack', 10, 'rate');
  ratio('spsc 12 B batch vs bare ring', 'spsc', 12, 'procq-thread-batch', 'sab-ring-pub64', 0.8, 'rate');
  ratio('spsc 12 B batch vs bare ring', 'spsc', 12, 'procq-process-batch', 'shm-ring-pub64', 0.8, 'rate');
  // bounded
  for (const f of ['async', 'sync']) {
    ratio('bounded Queue(1000)', 'bounded-1000', 12, `procq-process-${f}`, 'py-queue', 15, 'rate');
    ratio('bounded Queue(3)', 'bounded-3', 12, `procq-process-${f}`, 'py-queue', 10, 'rate');
  }
  // issue 7: a bound costs little (putters woken with hysteresis): Queue(1000) against the same impl unbounded
  for (const w of ['thread', 'process']) {
    for (const f of ['async', 'sync']) {
      const impl = `procq-${w}-${f}`;
      const b = find('bounded-1000', impl, 12);
      const u = find('spsc', impl, 12);
      if (!b || !u) continue;
      const v = b.msgs_per_s / u.msgs_per_s;
      out.push({
        status: v >= 0.85 ? 'PASS' : 'MISS',
        text: `bounded Queue(1000) vs unbounded: ${impl}: ${(v * 100).toFixed(0)}% of its unbounded rate (goal >= 85%)`,
        key: `bounded Queue(1000) vs unbounded: ${impl}`,
        value: `${(v * 100).toFixed(0)}%`,
      });
    }
  }
  // small objects
  for (const f of ['async', 'sync', 'batch'])
    ratio('small objects', 'spsc-obj', 55, `procq-process-${f}`, 'py-queue', 5, 'rate');
  // pingpong
  for (const f of ['sync', 'async']) {
    ratio('pingpong processes', 'pingpong', 12, `procq-process-${f}`, 'py-queue', 4, 'p50');
    ratio('pingpong processes', 'pingpong', 12, `procq-process-${f}`, 'shm-ring-futex', 1.5, 'p50-max');
    ratio('pingpong processes', 'pingpong', 12, `procq-process-${f}`, 'ipc-advanced', 1, 'p50');
  }
  // mpmc 4x4 on 2 cores: no collapse
  for (const w of ['thread', 'process']) {
    for (const f of ['async', 'sync', 'batch']) {
      const impl = `procq-${w}-${f}`;
      const a = find('mpmc-4x4', impl);
      const b = find('mpmc-2x2', impl);
      if (!a || !b) continue;
      const v = a.msgs_per_s / b.msgs_per_s;
      out.push({
        status: v >= 0.5 ? 'PASS' : 'MISS',
        text: `mpmc 4x4 vs 2x2: ${impl}: ${fmtRatio(v)}x of its 2x2 throughput (goal >= 0.5x)`,
        key: `mpmc 4x4 vs 2x2: ${impl}`,
        value: `${fmtRatio(v)}x`,
      });
    }
  }
  // issue 7: job farms, job objects, start, pools
  for (const how of ['process', 'forkserver'])
    for (const f of ['async', 'sync', 'batch'])
      ratio('jobs 2x2, start included', 'jobs-2x2', 63, `procq-${how}-${f}`, 'py-queue', 5, 'rate');
  for (const f of ['async', 'sync'])
    ratio(
      `job objects between threads${loaded ? ' (under load)' : ''}`,
      'spsc-obj',
      55,
      `procq-thread-${f}`,
      'postmessage-ack',
      loaded ? 1.5 : 2,
      'rate',
    );
  ratio('start to first item', 'startup', 0, 'procq-spawn', 'child-fork', 1, 'p50-max');
  const fs = find('startup', 'procq-forkserver', 0);
  if (fs)
    out.push({
      status: fs.p50_us! <= 10_000 ? 'PASS' : 'MISS',
      text: `start to first item: procq-forkserver p50 ${us(fs.p50_us!)} (goal <= 10 ms)`,
      key: 'start to first item: procq-forkserver',
      value: `p50 ${us(fs.p50_us!)}`,
    });
  ratio('Pool.map small tasks', 'poolmap', 0, 'procq-process-map', 'py-pool', 1, 'rate');
  ratio('Pool.map small tasks', 'poolmap', 0, 'procq-thread-map', 'piscina', 1, 'rate');
  const below: Array<{ v: number; text: string }> = [];
  let compared = 0;
  for (const rs of groups(results).values()) {
    if (rs[0]!.bench === 'startup') continue;
    for (const a of rs.filter((r) => FLOOR_ALTS.includes(r.impl))) {
      for (const p of rs.filter((r) => isProcq(r.impl))) {
        compared++;
        const v = isLatency(p.bench) ? a.p50_us! / p.p50_us! : p.msgs_per_s / a.msgs_per_s;
        if (v < 1) below.push({ v, text: `${p.bench} ${p.size} B ${p.impl} ${fmtRatio(v)}x ${a.impl}` });
      }
    }
  }
  if (compared)
    out.push({
      status: below.length ? 'MISS' : 'PASS',
      text: `no procq case below postMessage or CPython's Queue (same workload${loaded ? ', under load' : ''}): ${below.length ? `${below.length} of ${compared} pairs below; the worst: ${worst(below)}` : `all ${compared} pairs at or above`}`,
      key: 'no procq case below postMessage or CPython',
      value: `${below.length} of ${compared} below`,
    });

  // 1 MiB: >= 50% of memcpy bandwidth between processes
  const mem = find('spsc', 'memcpy', 1048576);
  for (const f of ['async', 'sync', 'into']) {
    const p = find('spsc', `procq-process-${f}`, 1048576);
    if (!p || !mem) {
      if (p || mem)
        out.push({
          status: 'SKIP',
          text: `1 MiB items: ${p ? 'memcpy' : `procq-process-${f}`} not measured`,
        });
      continue;
    }
    const v = p.msgs_per_s / mem.msgs_per_s;
    const gbs = (r: CaseResult) => ((r.msgs_per_s * r.size) / 2 ** 30).toFixed(2);
    out.push({
      status: v >= 0.5 ? 'PASS' : 'MISS',
      text: `1 MiB items: procq-process-${f} ${gbs(p)} GiB/s vs memcpy ${gbs(mem)} GiB/s = ${(v * 100).toFixed(0)}% (goal >= 50%)`,
      key: `1 MiB items: procq-process-${f}`,
      value: `${(v * 100).toFixed(0)}%`,
    });
  }
  return out;
}

const WORST_SHOWN = 8;

function worst(below: Array<{ v: number; text: string }>): string {
  const sorted = [...below].sort((a, b) => a.v - b.v);
  const shown = sorted.slice(0, WORST_SHOWN).map((b) => b.text);
  return `${shown.join(', ')}${sorted.length > WORST_SHOWN ? `, … (${sorted.length - WORST_SHOWN} more)` : ''}`;
}

/** Informative: what bounding costs each implementation (CPython loses 46% / 71% per issue 4). */
export function boundingCost(results: CaseResult[]): string[] {
  const lines: string[] = [];
  const impls = new Set(results.filter((r) => r.bench.startsWith('bounded-')).map((r) => r.impl));
  for (const impl of impls) {
    const unbounded = impl === 'postmessage-credit' ? 'postmessage-ack' : impl;
    const ref = results.find((r) => r.bench === 'spsc' && r.size === 12 && r.impl === unbounded);
    if (!ref) continue;
    for (const m of [1000, 3]) {
      const b = results.find((r) => r.bench === `bounded-${m}` && r.impl === impl);
      if (b)
        lines.push(
          `bounding cost ${impl}: Queue(${m}) keeps ${((b.msgs_per_s / ref.msgs_per_s) * 100).toFixed(0)}% of unbounded spsc`,
        );
    }
  }
  return lines;
}

/**
 * `--compare FILE`: this run beside another (`--json` output), e.g. `--load 2` beside a quiet run: each case's
 * share of its figure there, procq's and the alternatives' alike, so what load costs each is side by side.
 */
export function retention(results: CaseResult[], other: CaseResult[], otherName: string): string[] {
  const lines: string[] = [];
  for (const [key, rs] of groups(results)) {
    const cells: string[] = [];
    for (const r of rs) {
      const o = other.find((x) => x.bench === r.bench && x.impl === r.impl && x.size === r.size);
      if (!o) continue;
      const keep = isLatency(r.bench) ? o.p50_us! / r.p50_us! : r.msgs_per_s / o.msgs_per_s;
      cells.push(`${r.impl} ${(keep * 100).toFixed(0)}%`);
    }
    if (cells.length) lines.push(`${key}: share of ${otherName}: ${cells.join(', ')}`);
  }
  return lines;
}
