/**
 * Runs the matrix: each Node case in a fresh `node dist/bench/case.js` process, each CPython case in a fresh
 * `python3 bench/python_baseline.py`, one after another (the machine has 2 cores: never two cases at once).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { type Availability, buildCases } from './cases.js';
import { findPython, runPythonCase } from './impl/python.js';
import { type CaseProblem, type CaseResult, formatLine } from './lib/result.js';
import type { CaseSpec } from './lib/spec.js';
import { startLoad } from './load.js';

export interface RunOptions {
  quick: boolean;
  /** Only cases whose `bench impl size` string matches. */
  filter?: RegExp;
  /** Only these workloads: a case's bench is one of them, or one of them followed by `-` (`jobs`: `jobs-2x2`). */
  only?: string[];
  /** Called with each result line as it comes (the text output); not called for --json. */
  onLine?: (line: string) => void;
  /** Runs of each case (rounds over the whole matrix); each case reports its median run. @default 1 */
  repeat?: number;
  /** Called once before the first case, with the notes on what is skipped, the number of cases and of rounds. */
  onStart?: (notes: string[], cases: number, repeat: number) => void;
  /** Show a progress bar on stderr (only done when stderr is a TTY). */
  progress: boolean;
  /** Busy-looping processes kept running beside every case (`--load N`). @default 0 */
  load?: number;
}

export interface RunOutcome {
  results: CaseResult[];
  problems: CaseProblem[];
  notes: string[];
  avail: Availability;
}

export async function detect(): Promise<Availability> {
  const python = findPython() !== null;
  let native = false;
  let procq = false;
  try {
    const shm = await import('../src/memory/shm-segment.js');
    native = shm.shmAvailable();
  } catch {}
  const entry = new URL('../src/index.js', import.meta.url);
  if (existsSync(entry)) {
    try {
      const m = (await import(entry.href)) as Record<string, unknown>;
      procq = typeof m.Queue === 'function' && typeof m.Process === 'function';
    } catch {}
  }
  let piscina = false;
  try {
    await import('piscina');
    piscina = true;
  } catch {}
  const redis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  return { python, native, procq, piscina, redis };
}

const CASE_MAIN = new URL('./case.js', import.meta.url);

function runNodeCase(spec: CaseSpec): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CASE_MAIN.pathname, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const line of out.split('\n')) {
        if (line.startsWith('RESULT ')) return resolve(JSON.parse(line.slice(7)) as CaseResult);
        if (line.startsWith('ERROR ')) return reject(new Error(JSON.parse(line.slice(6)) as string));
      }
      const why =
        signal === 'SIGKILL' ? `timed out after ${spec.timeoutMs} ms` : `exited with ${signal ?? code}`;
      reject(new Error(`${why}${err ? `: ${err.trim().split('\n').slice(-5).join(' | ')}` : ''}`));
    });
  });
}

export function caseLabel(s: { bench: string; impl: string; size: number }): string {
  return `${s.bench} ${s.impl} ${s.size}`;
}

/**
 * The run of a case that represents it: the median by its metric (msgs/s; p50 for latency workloads), with the
 * spread of all its runs attached for --json.
 */
function medianRun(runs: CaseResult[]): CaseResult {
  const latency = runs[0]!.bench === 'pingpong' || runs[0]!.bench === 'startup';
  const metric = (r: CaseResult) => (latency ? r.p50_us! : r.msgs_per_s);
  // Best first; with an even count, the better of the two middle runs.
  const sorted = [...runs].sort((a, b) => (latency ? metric(a) - metric(b) : metric(b) - metric(a)));
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return runs.length > 1 ? { ...median, runs: runs.map(metric) } : median;
}

export async function runAll(opts: RunOptions): Promise<RunOutcome> {
  const avail = await detect();
  const { cases: all, notes } = buildCases(opts.quick, avail);
  const only = opts.only;
  const cases = all.filter(
    (c) =>
      (!opts.filter || opts.filter.test(caseLabel(c))) &&
      (!only?.length || only.some((w) => c.bench === w || c.bench.startsWith(`${w}-`))),
  );
  const repeat = Math.max(1, opts.repeat ?? 1);
  const results: CaseResult[] = [];
  const problems: CaseProblem[] = [];
  opts.onStart?.(notes, cases.length, repeat);
  const total = cases.length * repeat;
  let done = 0;
  const bar =
    opts.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            format: ' {bar} {value}/{total} runs | {eta_formatted} left | {label}',
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 40,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(total, 0, { label: '' });
  /** Prints a line above the bar: erase the bar's line, print, redraw the bar. */
  const emit = (line: string) => {
    if (bar) process.stderr.write('\r\x1b[2K');
    opts.onLine?.(line);
    bar?.update(done);
  };
  // Rounds over the whole matrix rather than back-to-back repeats: a disturbance on a shared machine then hits
  // one run of many cases, not every run of one case. A case's line comes with its last round.
  const runs: CaseResult[][] = cases.map(() => []);
  const failed = new Set<number>();
  const load = opts.load ? startLoad(opts.load) : undefined;
  try {
    await roundsOver();
  } finally {
    load?.stop();
  }
  bar?.update(total, { label: 'done' });
  bar?.stop();
  return { results, problems, notes, avail };

  async function roundsOver(): Promise<void> {
    for (let round = 1; round <= repeat; round++) {
      for (const [idx, spec] of cases.entries()) {
        if (failed.has(idx)) {
          done++;
          continue;
        }
        const label = `${caseLabel(spec)}${repeat > 1 ? ` (round ${round}/${repeat})` : ''}`;
        bar?.update(done, { label });
        try {
          const r = spec.family === 'python' ? await runPythonCase(spec) : await runNodeCase(spec);
          runs[idx]!.push(r);
          done++;
          if (round === repeat) {
            const m = medianRun(runs[idx]!);
            results.push(m);
            emit(formatLine(m));
          }
        } catch (e) {
          done++;
          failed.add(idx);
          const reason = (e as Error).message;
          problems.push({ bench: spec.bench, impl: spec.impl, size: spec.size, status: 'failed', reason });
          emit(`FAILED bench=${spec.bench} impl=${spec.impl} size=${spec.size}: ${reason.split('\n')[0]}`);
        }
      }
    }
  }
}
