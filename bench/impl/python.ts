/** Runs one CPython case (`python_baseline.py`) and parses its line; `skipped` when python3 is absent. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type CaseResult, parseLine } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

/** `bench/python_baseline.py` in the source tree (this file runs from `dist/bench/impl/`). */
export const PYTHON_SCRIPT = fileURLToPath(new URL('../../../bench/python_baseline.py', import.meta.url));

let found: string | null | undefined;

/** The python3 executable, or null when there is none. */
export function findPython(): string | null {
  if (found !== undefined) return found;
  const exe = process.env.PYTHON ?? 'python3';
  const r = spawnSync(exe, ['-c', 'import multiprocessing, sys; print(sys.version.split()[0])'], {
    encoding: 'utf8',
  });
  found = r.status === 0 ? exe : null;
  return found;
}

export function pythonVersion(): string | undefined {
  const exe = findPython();
  if (!exe) return undefined;
  return spawnSync(exe, ['-c', 'import sys; print(sys.version.split()[0])'], {
    encoding: 'utf8',
  }).stdout.trim();
}

export function runPythonCase(spec: CaseSpec): Promise<CaseResult> {
  const exe = findPython();
  if (!exe) return Promise.reject(new Error('python3 not found'));
  const args = [
    PYTHON_SCRIPT,
    '--bench',
    spec.bench,
    '--impl',
    spec.impl,
    '--kind',
    spec.kind,
    '--size',
    String(spec.size),
    '--msgs',
    String(spec.msgs),
    '--producers',
    String(spec.producers),
    '--consumers',
    String(spec.consumers),
    '--maxsize',
    String(spec.maxsize),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = out
        .split('\n')
        .map(parseLine)
        .find((x) => x !== undefined);
      if (code === 0 && r) resolve(r);
      else reject(new Error(signal ? `timed out (${signal})` : err.trim().split('\n').slice(-3).join(' | ')));
    });
  });
}
