#!/usr/bin/env node
/**
 * npm's `install` script, in node-gyp-build's manner: use the prebuilt addon when it loads here, else build it
 * from source.
 *
 * 1. A prebuilt binary (prebuilds/linux-x64/, shipped in the package) or an earlier build that loads and has the
 *    expected ABI: nothing to do (no compiler needed).
 * 2. Otherwise (another platform or libc, a checkout of the repository, `--build-from-source`): build from
 *    source with build-native.mjs, which only warns when it fails: procq still works between worker threads, and
 *    the error a process start then gives says what to run.
 *
 * `npm install --ignore-scripts` skips this script; the prebuilt binary is then loaded at run time all the same.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const loader = join(root, 'dist', 'src', 'native', 'index.js');

async function prebuiltLoads() {
  if (process.env.npm_config_build_from_source === 'true') return false;
  // In a checkout (`npm install` of the repository itself), always build from source, as `npm run build:native`
  // does: the C source may have changed since the last build.
  if (existsSync(join(root, 'src', 'native', 'index.ts'))) return false;
  if (!existsSync(loader)) return false;
  delete process.env.PROCQ_NATIVE;
  process.removeAllListeners('warning'); // the loader's PROCQ_NATIVE_MISSING warning: said below, once
  const { loadNative, nativeLoadError } = await import(pathToFileURL(loader).href);
  if (loadNative() !== null) return true;
  console.error(`procq: no prebuilt binary loads here: ${nativeLoadError()}`);
  return false;
}

if (await prebuiltLoads()) {
  const which = existsSync(join(root, 'build')) ? 'native addon built earlier' : 'prebuilt native addon';
  console.error(`procq: the ${which} loads here; nothing to build`);
  process.exit(0);
}
console.error('procq: building the native addon from source');
const res = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
process.exit(res.status ?? 1);
