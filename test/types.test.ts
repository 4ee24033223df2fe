// The published types catch mistakes: test/types/*.ts are compiled with `tsc --noEmit --strict` against the
// built package (`import … from 'procq'` resolves, through package.json's `exports`, to dist/src/index.d.ts),
// and each of their `@ts-expect-error` lines must be an error (tsc fails on one that is not). Also: no
// `_`-prefixed member reaches the published .d.ts files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name));
}

test('test/types/*.ts compile under --strict against the published types, every @ts-expect-error an error', () => {
  const files = filesUnder(join(root, 'test/types'), '.ts');
  assert.ok(files.length > 0);
  const res = spawnSync(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--lib',
      'ES2023,ES2024.SharedMemory,ESNext.Disposable',
      '--types',
      'node',
      ...files,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(res.status, 0, `tsc failed:\n${res.stdout}${res.stderr}`);
});

// Python's own `_`-names of a manager proxy (`_callmethod`, `_id`...), public there and here: a proxy forwards every
// other name to the object it stands for, so its own members keep Python's `_` to stay out of the way.
const PYTHON_PROXY_NAMES = new Set(['_typeid', '_id', '_address', '_callMethod']);

test('the published .d.ts files declare no `_`-prefixed member', () => {
  const found: string[] = [];
  for (const file of filesUnder(join(root, 'dist/src'), '.d.ts')) {
    // Comments may mention Python's names (`_identity`); declarations may not.
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    for (const m of code.matchAll(/\b_[a-zA-Z]\w*/g)) {
      if (file.endsWith('manager/proxy.d.ts') && PYTHON_PROXY_NAMES.has(m[0])) continue;
      found.push(`${file.slice(root.length)}: ${m[0]}`);
    }
  }
  assert.deepEqual(found, []);
});
