/**
 * Runs the matrix: each Node case in a fresh `node dist/bench/case.js` process, each CPython case in a fresh
 * `python3 bench/python_baseline.py`, one after another (the machine has 2 cores: never two cases at once).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { type Availability, buildCases } from './cases.js';
import { findPython, runPythonCase } from './impl/python.js';
import { type CaseProblem, type CaseResult, formatLine } from './lib/result.js';
import type { CaseSpec } from './lib/spec.js';

export interface RunOptions {
  quick: boolean;
  /** Only cases whose `bench impl size` string matches. */
  filter?: RegExp;
  /** Called with each result line as it comes (the text output); not called for --json. */
  onLine?: (line: string) => void;
  /** Called once before the first case, with the notes on what is skipped and the number of cases. */
  onStart?: (notes: string[], cases: number) => void;
  /** Show a progress bar on stderr (only done when stderr is a TTY). */
  progress: boolean;
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
  return { python, native, procq };
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

export async function runAll(opts: RunOptions): Promise<RunOutcome> {
  const avail = await detect();
  const { cases: all, notes } = buildCases(opts.quick, avail);
  const cases = opts.filter ? all.filter((c) => opts.filter!.test(caseLabel(c))) : all;
  const results: CaseResult[] = [];
  const problems: CaseProblem[] = [];
  opts.onStart?.(notes, cases.length);
  const bar =
    opts.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            format: ' {bar} {value}/{total} cases | {eta_formatted} left | {label}',
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(cases.length, 0, { label: '' });
  /** Prints a line above the bar: erase the bar's line, print, redraw the bar. */
  const emit = (line: string) => {
    if (bar) process.stderr.write('\r\x1b[2K');
    opts.onLine?.(line);
    bar?.update(results.length + problems.length);
  };
  for (const spec of cases) {
    bar?.update(results.length + problems.length, { label: caseLabel(spec) });
    try {
      const r = spec.family === 'python' ? await runPythonCase(spec) : await runNodeCase(spec);
      results.push(r);
      emit(formatLine(r));
    } catch (e) {
      const reason = (e as Error).message;
      problems.push({ bench: spec.bench, impl: spec.impl, size: spec.size, status: 'failed', reason });
      emit(`FAILED bench=${spec.bench} impl=${spec.impl} size=${spec.size}: ${reason.split('\n')[0]}`);
    }
  }
  bar?.update(cases.length, { label: 'done' });
  bar?.stop();
  return { results, problems, notes, avail };
}
