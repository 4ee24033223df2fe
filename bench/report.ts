/**
 * `--report FILE.svg`: the run as a chart a person would rather look at than read. One panel per workload
 * (and item size); one horizontal bar per implementation, on a log scale; procq's bars in colour, the
 * alternatives in muted tones by family. Throughput panels: msgs/s, longer is better. Latency panels
 * (pingpong, startup): p50 in microseconds, shorter is better, with p99 as a tick.
 */
import os from 'node:os';
import { groups, isLatency } from './analysis.js';
import type { CaseResult } from './lib/result.js';

const COLORS: Array<[prefix: string, fill: string, family: string]> = [
  ['procq-thread', '#d9480f', 'procq, worker threads'],
  ['procq-process', '#c2255c', 'procq, processes'],
  ['procq-spawn', '#c2255c', ''],
  ['sab-ring', '#868e96', 'bare shared-memory ring (the physical limit)'],
  ['shm-ring', '#868e96', ''],
  ['memcpy', '#adb5bd', 'memcpy (one thread)'],
  ['postmessage', '#4dabf7', 'Node postMessage'],
  ['worker-thread', '#4dabf7', ''],
  ['ipc-', '#1c7ed6', 'Node child_process IPC'],
  ['child-fork', '#1c7ed6', ''],
  ['py-', '#f59f00', 'CPython multiprocessing'],
];

function color(impl: string): string {
  return COLORS.find(([p]) => impl.startsWith(p))?.[1] ?? '#495057';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function human(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toPrecision(3)}G`;
  if (x >= 1e6) return `${(x / 1e6).toPrecision(3)}M`;
  if (x >= 1e3) return `${(x / 1e3).toPrecision(3)}k`;
  return x.toPrecision(3);
}

function sizeLabel(bench: string, size: number): string {
  if (bench === 'startup') return '';
  if (bench === 'spsc-obj') return 'small objects';
  if (size >= 1048576) return `${size / 1048576} MiB items`;
  if (size >= 1024) return `${size / 1024} KiB items`;
  return `${size} B strings`;
}

export function renderSvg(results: CaseResult[], title: string): string {
  const W = 960;
  const labelW = 190;
  const valueW = 150;
  const barW = W - labelW - valueW - 40;
  const rowH = 18;
  let y = 70;
  const parts: string[] = [];
  for (const rs of groups(results).values()) {
    const latency = isLatency(rs[0]!.bench);
    const val = (r: CaseResult) => (latency ? r.p50_us! : r.msgs_per_s);
    const sorted = [...rs]
      .filter((r) => val(r) > 0)
      .sort((a, b) => (latency ? val(a) - val(b) : val(b) - val(a)));
    if (sorted.length === 0) continue;
    const lo = Math.min(...sorted.map(val), ...(latency ? sorted.map((r) => r.p99_us ?? val(r)) : []));
    const hi = Math.max(...sorted.map(val), ...(latency ? sorted.map((r) => r.p99_us ?? val(r)) : []));
    // Axis from the decade below the smallest value to a little past the largest (ticks at each decade).
    const decLo = 10 ** Math.floor(Math.log10(lo) - 0.0001);
    const axisHi = Math.max(hi * 1.25, decLo * 10);
    const scale = (v: number) => (Math.log10(v / decLo) / Math.log10(axisHi / decLo)) * barW;
    const { bench, size } = sorted[0]!;
    const head = `${bench}${sizeLabel(bench, size) ? `, ${sizeLabel(bench, size)}` : ''}`;
    const unit = latency
      ? 'p50 round trip, µs (log scale; shorter is better; tick: p99)'
      : 'msgs/s (log scale; longer is better)';
    parts.push(
      `<text x="20" y="${y}" class="h">${esc(head)}</text><text x="${W - 20}" y="${y}" class="u">${esc(
        bench === 'startup' ? 'start to first item, p50 µs (log scale; shorter is better; tick: p99)' : unit,
      )}</text>`,
    );
    y += 8;
    for (let d = decLo; d <= axisHi; d *= 10) {
      const x = labelW + 10 + scale(d);
      parts.push(
        `<line x1="${x.toFixed(1)}" y1="${y}" x2="${x.toFixed(1)}" y2="${y + sorted.length * rowH}" class="g"/>` +
          `<text x="${x.toFixed(1)}" y="${y + sorted.length * rowH + 11}" class="t">${human(d)}</text>`,
      );
    }
    for (const r of sorted) {
      const w = Math.max(1, scale(val(r)));
      const procq = r.impl.startsWith('procq-');
      parts.push(
        `<text x="${labelW}" y="${y + 13}" class="l${procq ? ' b' : ''}">${esc(r.impl)}</text>` +
          `<rect x="${labelW + 10}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 5}" fill="${color(r.impl)}"/>` +
          (latency && r.p99_us
            ? `<line x1="${(labelW + 10 + scale(r.p99_us)).toFixed(1)}" y1="${y + 3}" x2="${(labelW + 10 + scale(r.p99_us)).toFixed(1)}" y2="${y + rowH - 2}" stroke="#212529" stroke-width="1.5"/>`
            : '') +
          `<text x="${(labelW + 16 + Math.max(w, latency && r.p99_us ? scale(r.p99_us) : 0)).toFixed(1)}" y="${y + 13}" class="v">${
            latency
              ? `${human(r.p50_us!)} µs${r.p99_us ? ` (p99 ${human(r.p99_us)} µs)` : ''}`
              : `${human(r.msgs_per_s)}/s`
          }${!latency && r.size >= 1024 ? ` (${human(r.msgs_per_s * r.size)}B/s)` : ''}</text>`,
      );
      y += rowH;
    }
    y += 40;
  }
  const legend = COLORS.filter(([, , f]) => f).map(
    ([, fill, family], i) =>
      `<rect x="${20 + (i % 3) * 310}" y="${y + Math.floor(i / 3) * 18}" width="12" height="12" fill="${fill}"/>` +
      `<text x="${38 + (i % 3) * 310}" y="${y + 10 + Math.floor(i / 3) * 18}" class="l2">${esc(family)}</text>`,
  );
  y += 60;
  const subtitle = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}, ${os.platform()} ${os.release()}, ${new Date().toISOString().slice(0, 16)}Z`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<style>
.h{font-size:15px;font-weight:600;fill:#212529}.u{font-size:11px;fill:#868e96;text-anchor:end}.l{font-size:12px;fill:#343a40;text-anchor:end}
.b{font-weight:700;fill:#212529}.v{font-size:11px;fill:#495057}.t{font-size:10px;fill:#adb5bd;text-anchor:middle}
.g{stroke:#e9ecef;stroke-width:1}.l2{font-size:12px;fill:#343a40}.title{font-size:20px;font-weight:700;fill:#212529}.sub{font-size:12px;fill:#868e96}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="30" class="title">${esc(title)}</text>
<text x="20" y="48" class="sub">${esc(subtitle)}</text>
${parts.join('\n')}
${legend.join('\n')}
</svg>
`;
}
