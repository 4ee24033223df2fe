/**
 * The npm package as users get it: `npm pack` on a clean copy of the checkout (no dist/, build/ or prebuilds/:
 * `prepack` makes them), installed into new empty projects with and without install scripts, then used there:
 * a program that spawns a real OS process and hands it a Queue, the `procq` command, `require('procq')`.
 *
 * Needs npm (its cache, or the registry, for procq's dependencies) and, for packing, what `npm run build:native`
 * needs (a C compiler, make, python3).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { installedProject, type Project, packedTarball, ROOT, report } from './helpers/package.js';

// Spawns a real OS process (startMethod 'spawn'), passes it a Queue, and gets back what the child saw.
const SPAWN_PROGRAM = `import { isMainProcess, Process, Queue } from 'procq';

export function child(q) {
  q.putSync({ pid: process.pid, ppid: process.ppid });
}

if (isMainProcess()) {
  const q = new Queue();
  const p = new Process({ target: child, args: [q], startMethod: 'spawn' });
  p.start();
  const got = await q.get({ timeout: 20000 });
  await p.join();
  q.close();
  console.log(JSON.stringify({ main: process.pid, ...got, exitCode: p.exitCode }));
}
`;

/** Runs SPAWN_PROGRAM in `project` and checks that the child was another OS process, started by this one. */
async function spawnsARealProcess(project: Project): Promise<void> {
  writeFileSync(join(project.dir, 'spawn.js'), SPAWN_PROGRAM);
  const r = await project.run('node', ['spawn.js'], { timeoutMs: 60_000 });
  assert.equal(r.status, 0, report('node spawn.js', r));
  assert.equal(r.stderr, '', report('node spawn.js wrote to stderr', r));
  const seen = JSON.parse(r.stdout) as { main: number; pid: number; ppid: number; exitCode: number };
  assert.notEqual(seen.pid, seen.main, 'the target ran in the main process');
  assert.equal(seen.ppid, seen.main, 'the child is not a child of the main process');
  assert.equal(seen.exitCode, 0);
}

const installedFile = (project: Project, path: string) => join(project.dir, 'node_modules', 'procq', path);

describe('npm pack', () => {
  let files: string[];
  before(async () => {
    const tarball = await packedTarball();
    const ls = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' });
    assert.equal(ls.status, 0, ls.stderr);
    files = ls.stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
  });

  test('from a clean copy, prepack builds what ships: the library, its types, the demo programs, the prebuilt addon', () => {
    for (const f of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
      'dist/bundle/index.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'dist/examples/01-separate-memory.js',
      'dist/examples/02-bounded-queue.js',
      'dist/examples/03-writer-reader.js',
      'prebuilds/linux-x64/procq.glibc.node',
      'src/esm-only.cjs',
      // the build-from-source fallback
      'binding.gyp',
      'src/native/procq.c',
      'scripts/install-native.mjs',
      'scripts/build-native.mjs',
      'scripts/gyp.mjs',
    ]) {
      assert.ok(files.includes(f), `${f} is not in the package`);
    }
  });

  test('ships nothing of the repository itself: no tests, benchmarks, TypeScript sources, build output', () => {
    const unwanted = files.filter((f) =>
      /^(dist\/(test|bench)\/|test\/|bench\/|build\/|node_modules\/|docs\/|\.ci\/)|(?<!\.d)\.ts$/.test(f),
    );
    assert.deepEqual(unwanted, []);
  });

  test('source maps carry their sources (the .ts files are not shipped)', async () => {
    const map = spawnSync('tar', ['xzfO', await packedTarball(), 'package/dist/src/index.js.map'], {
      encoding: 'utf8',
    });
    const parsed = JSON.parse(map.stdout) as { sourcesContent?: string[] };
    assert.ok(parsed.sourcesContent?.[0]?.includes('export'), 'index.js.map has no sourcesContent');
  });

  test('in the checkout, `npm run build` leaves the bin executable, with its shebang', () => {
    const bin = join(ROOT, 'dist', 'src', 'cli', 'main.js');
    assert.ok(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n'));
    assert.equal(statSync(bin).mode & 0o111, 0o111, `${bin} is not executable`);
  });
});

describe('installed with --ignore-scripts (no install script, no compiler used)', () => {
  let project: Project;
  before(async () => {
    project = await installedProject({ ignoreScripts: true });
  });
  after(() => project?.remove());

  test('a program spawns a real OS process and passes it a Queue, on the prebuilt addon', async () => {
    await spawnsARealProcess(project);
    assert.equal(existsSync(installedFile(project, 'build')), false, 'something was compiled');
  });

  test('`npx procq --help` lists demo and sweep; bench is not offered', async () => {
    const r = await project.run('npx', ['procq', '--help']);
    assert.equal(r.status, 0, report('npx procq --help', r));
    assert.match(r.stdout, /^Usage: procq/m);
    assert.match(r.stdout, /^ {2}demo\b/m);
    assert.match(r.stdout, /^ {2}sweep\b/m);
    assert.doesNotMatch(r.stdout, /^ {2}bench\b/m);
  });

  test('`npx procq bench` says where it runs, without a stack trace', async () => {
    const r = await project.run('npx', ['procq', 'bench', '--quick']);
    assert.equal(r.status, 1, report('npx procq bench', r));
    assert.match(r.stderr, /procq bench is not part of the installed package: it runs from a checkout/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'a stack trace');
  });

  test('`npx procq demo` runs the three programs with real processes', async () => {
    const r = await project.run('npx', ['procq', 'demo'], { timeoutMs: 120_000 });
    assert.equal(r.status, 0, report('npx procq demo', r));
    assert.match(r.stdout, /child 1: counter = 150/);
    assert.match(r.stdout, /putNowait: the queue is full, qsize\(\) = 3/);
    assert.match(r.stdout, /read: message 4/);
    assert.match(r.stdout, /procq demo: all three programs ran\./);
  });

  test('`npx procq sweep` runs', async () => {
    const r = await project.run('npx', ['procq', 'sweep']);
    assert.equal(r.status, 0, report('npx procq sweep', r));
    assert.match(r.stdout, /^procq sweep: /);
  });

  test("require('procq') fails saying procq is ESM-only and how to import it", async () => {
    writeFileSync(join(project.dir, 'cjs.cjs'), "require('procq');\n");
    const r = await project.run('node', ['cjs.cjs']);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /procq is ESM-only: use `import \{ Queue \} from 'procq'`.*await import\('procq'\)/,
    );
  });
});

describe('installed with install scripts', () => {
  let project: Project;
  before(async () => {
    project = await installedProject({ ignoreScripts: false });
  });
  after(() => project?.remove());

  test('the install script finds that the prebuilt addon loads, and builds nothing', () => {
    const out = project.install.stdout + project.install.stderr;
    assert.match(out, /node scripts\/install-native\.mjs/, report('npm install', project.install));
    assert.match(out, /procq: the prebuilt native addon loads here; nothing to build/);
    assert.equal(existsSync(installedFile(project, 'build')), false, 'something was compiled');
  });

  test('a program spawns a real OS process and passes it a Queue', async () => {
    await spawnsARealProcess(project);
  });

  test('without a usable binary, the error says to run `npm rebuild procq`, which builds one from source', async (t) => {
    if (spawnSync('cc', ['--version']).status !== 0) {
      t.skip('no C compiler here (cc): cannot build from source');
      return;
    }
    renameSync(installedFile(project, 'prebuilds'), installedFile(project, 'prebuilds.away'));
    const broken = await project.run('node', ['spawn.js'], { timeoutMs: 60_000 });
    assert.notEqual(broken.status, 0, report('node spawn.js without prebuilds', broken));
    assert.match(broken.stderr, /PROCQ_NATIVE_MISSING/);
    assert.match(broken.stderr, /`npm rebuild procq` in your project/);
    assert.match(broken.stderr, /needs a C compiler, make and python3/);

    const rebuild = await project.run('npm', ['rebuild', 'procq', '--foreground-scripts'], {
      timeoutMs: 300_000,
    });
    assert.equal(rebuild.status, 0, report('npm rebuild procq', rebuild));
    assert.ok(
      existsSync(installedFile(project, 'build/Release/procq_native.node')),
      report('rebuild', rebuild),
    );
    await spawnsARealProcess(project);
  });
});
