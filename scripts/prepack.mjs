#!/usr/bin/env node
/**
 * npm's `prepack` script (`npm pack`, `npm publish`): makes, from a fresh clone, everything the package ships
 * that git does not hold.
 *
 * 1. dist/: a clean `tsc` build (what ships is removed first, so no output of a deleted source survives), with
 *    the sources inlined in the source maps (stack traces under `--enable-source-maps` show TypeScript lines,
 *    though src/ is not shipped), the package entry bundled into dist/bundle/ (scripts/bundle.mjs), and the bin
 *    made executable.
 * 2. prebuilds/linux-x64/procq.glibc.node: the native addon, built by `prebuildify --napi --strip --tag-libc`
 *    on this machine (Node-API: one binary for every Node version). prebuilds/ is not in git: every pack builds
 *    it from src/native/procq.c, so it always matches the source. prebuildify runs in a scratch copy of the
 *    addon's sources, leaving this checkout's build/ (the dev build, maybe in use) alone.
 * 3. A check that the packed binary loads (prebuilds only) with the expected ABI.
 *
 * Needs what `npm run build:native` needs (a C compiler, make, python3; Linux). `PROCQ_PREBUILD=off` skips
 * step 2 and 3 (a package without prebuilt binary, that builds from source on install).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodedir, findNodeGyp } from './gyp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

function run(what, args, options = {}) {
  const started = Date.now();
  const res = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', ...options });
  if (res.status !== 0) {
    console.error(
      `procq prepack: ${what} failed (${res.error?.message ?? `exit ${res.status ?? res.signal}`})`,
    );
    process.exit(1);
  }
  console.error(`procq prepack: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

// 1. dist/
for (const shipped of ['dist/src', 'dist/examples'])
  rmSync(join(root, shipped), { recursive: true, force: true });
run('tsc', [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--inlineSources']);
run('bundle', [join(root, 'scripts', 'bundle.mjs')]);
run('bin made executable', [join(root, 'scripts', 'make-bin-executable.mjs')]);

// 2. prebuilds/
rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
if (process.env.PROCQ_PREBUILD === 'off') {
  console.error('procq prepack: PROCQ_PREBUILD=off: no prebuilt binary (installs build from source)');
  process.exit(0);
}
if (process.platform !== 'linux') {
  console.error(
    `procq prepack: the addon is Linux only (this is ${process.platform}); set PROCQ_PREBUILD=off`,
  );
  process.exit(1);
}
const scratch = mkdtempSync(join(tmpdir(), 'procq-prebuild-'));
try {
  cpSync(join(root, 'binding.gyp'), join(scratch, 'binding.gyp'));
  mkdirSync(join(scratch, 'src', 'native'), { recursive: true });
  cpSync(join(root, 'src', 'native', 'procq.c'), join(scratch, 'src', 'native', 'procq.c'));
  const nodeGyp = findNodeGyp(root);
  const nodedir = findNodedir();
  const env = { ...process.env, npm_config_loglevel: 'warn' }; // node-gyp: warnings and errors only
  if (nodeGyp) env.PREBUILD_NODE_GYP = nodeGyp;
  if (nodedir) env.npm_config_nodedir = nodedir; // headers on this machine: no download
  run(
    'prebuildify --napi --strip --tag-libc',
    [
      require.resolve('prebuildify/bin.js'),
      '--napi',
      '--strip',
      '--tag-libc',
      '--name=procq',
      `--cwd=${scratch}`,
      `--out=${root}`,
      `--cache=${join(scratch, 'gyp-cache')}`,
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// 3. the packed binary loads, from prebuilds/ only (build/ is ignored), with the ABI the loader expects.
run(
  'prebuilt binary loads',
  [
    '--input-type=module',
    '-e',
    `const { loadNative, nativeLoadError } = await import(${JSON.stringify(join(root, 'dist/src/native/index.js'))});
   if (loadNative() === null) { console.error(nativeLoadError()); process.exit(1); }`,
  ],
  { env: { ...process.env, PREBUILDS_ONLY: '1', PROCQ_NATIVE: '' } },
);
