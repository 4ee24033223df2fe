#!/usr/bin/env node
// Runs the compiled test files with node's test runner, and fails a run that executed no test.
// Usage: node scripts/run-tests.mjs [files...]   (default: every dist/test/**/*.test.js)
// The test files share PROCQ_TEST_TMP, a directory removed at the end (the packed tarball lives there).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'fixtures') out.push(...findTests(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const files = process.argv.length > 2 ? process.argv.slice(2) : findTests('dist/test');
const tmp = mkdtempSync(join(tmpdir(), 'procq-tests-'));
const tap = join(tmp, 'report.tap');
const res = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-timeout=240000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, PROCQ_TEST_TMP: tmp } },
);
let ran = 0;
try {
  const m = /^# tests (\d+)$/m.exec(readFileSync(tap, 'utf8'));
  ran = m ? Number(m[1]) : 0;
} catch {}
rmSync(tmp, { recursive: true, force: true });
if (ran === 0) {
  console.error('procq tests: no test ran; failing the run');
  process.exit(1);
}
process.exit(res.status ?? 1);
