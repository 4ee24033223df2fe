/**
 * One measured case, and the one line it prints:
 * `bench=<workload> impl=<name> size=<bytes> msgs=<n> seconds=<t> msgs_per_s=<r>` plus `p50_us=`, `p90_us=` (startup),
 * `p99_us=`,
 * `peak_rss_mb=` when measured. The same format is printed by `python_baseline.py`, and parsed back here.
 */

export interface CaseResult {
  bench: string;
  impl: string;
  size: number;
  msgs: number;
  seconds: number;
  msgs_per_s: number;
  p50_us?: number;
  /** The startup workload's (ten starts: p99 is the slowest). */
  p90_us?: number;
  p99_us?: number;
  peak_rss_mb?: number;
  /** With --repeat: the metric (msgs/s, or p50 for latency) of every run; the line shows the median run. */
  runs?: number[];
}

/** A case that did not produce a measurement: skipped (not applicable here) or failed (a correctness error). */
export interface CaseProblem {
  bench: string;
  impl: string;
  size: number;
  status: 'skipped' | 'failed';
  reason: string;
}

function num(x: number, digits: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Number(x.toPrecision(digits)).toString();
}

export function formatLine(r: CaseResult): string {
  let line =
    `bench=${r.bench} impl=${r.impl} size=${r.size} msgs=${r.msgs} seconds=${num(r.seconds, 4)} ` +
    `msgs_per_s=${Math.round(r.msgs_per_s)}`;
  if (r.p50_us !== undefined) line += ` p50_us=${num(r.p50_us, 4)}`;
  if (r.p90_us !== undefined) line += ` p90_us=${num(r.p90_us, 4)}`;
  if (r.p99_us !== undefined) line += ` p99_us=${num(r.p99_us, 4)}`;
  if (r.peak_rss_mb !== undefined) line += ` peak_rss_mb=${num(r.peak_rss_mb, 4)}`;
  return line;
}

/** Parses a `bench=` line (ours or Python's); `undefined` for any other line. */
export function parseLine(line: string): CaseResult | undefined {
  if (!line.startsWith('bench=')) return undefined;
  const f: Record<string, string> = {};
  for (const part of line.trim().split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) f[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const r: CaseResult = {
    bench: f.bench!,
    impl: f.impl!,
    size: Number(f.size),
    msgs: Number(f.msgs),
    seconds: Number(f.seconds),
    msgs_per_s: Number(f.msgs_per_s),
  };
  if (f.p50_us !== undefined) r.p50_us = Number(f.p50_us);
  if (f.p90_us !== undefined) r.p90_us = Number(f.p90_us);
  if (f.p99_us !== undefined) r.p99_us = Number(f.p99_us);
  if (f.peak_rss_mb !== undefined) r.peak_rss_mb = Number(f.peak_rss_mb);
  return r;
}

/** The p-th percentile (0..100) of `xs`, nearest-rank; sorts `xs` in place. */
export function percentile(xs: number[] | Float64Array, p: number): number {
  xs.sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const rank = Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1));
  return xs[rank]!;
}

/** This process's peak resident set size so far, in MB (worker threads included: they share it). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}
