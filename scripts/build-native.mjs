#!/usr/bin/env node
/**
 * Builds the native addon from source (build/Release/procq_native.node) with node-gyp, offline.
 *
 *   node scripts/build-native.mjs            the fallback of npm's `install` script (install-native.mjs) when no
 *                                            prebuilt binary loads: a failed build only warns (exit 0), since
 *                                            procq still works between worker threads without the addon
 *   node scripts/build-native.mjs --strict   `npm run build:native`: a failed build exits non-zero
 *
 * node-gyp is the one bundled with npm (or a local one). Headers: `npm_config_nodedir` when set, else the
 * headers installed next to this node binary (<prefix>/include/node), else node-gyp's cache; the build never
 * needs the network when one of these exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodedir, findNodeGyp } from './gyp.mjs';

const strict = process.argv.includes('--strict');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'build', 'Release', 'procq_native.node');

function fail(reason) {
  const lines = [
    `procq: the native addon was not built: ${reason}`,
    'procq: worker threads (startMethod: "thread") still work; OS processes need the addon.',
    'procq: to retry, install a C compiler, make and python3, then run `npm rebuild procq` in your project',
    '       (or `npm run build:native` in a checkout of procq).',
  ];
  console.error(lines.join('\n'));
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') fail(`it supports Linux only (this is ${process.platform})`);
const nodeGyp = findNodeGyp(root);
if (!nodeGyp) fail('node-gyp was not found (it comes with npm)');
const nodedir = findNodedir();
const started = Date.now();
// configure + build, not rebuild: `clean` would delete a working addon that running processes may be loading;
// make replaces the output with a new file (new inode) only once it is linked.
function gyp(command) {
  const args = [nodeGyp, command];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  return spawnSync(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: 300_000,
  });
}
let res = gyp('configure');
if (!res.error && res.status === 0) res = gyp('build');
if (res.error || res.status !== 0 || !existsSync(output)) {
  const log = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
  if (log) console.error(log);
  fail(res.error ? res.error.message : `node-gyp exited with ${res.status ?? res.signal}`);
}
console.error(`procq: built ${output} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
