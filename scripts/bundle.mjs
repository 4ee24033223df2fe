#!/usr/bin/env node
/**
 * Bundles the library into dist/bundle/, the package's entry (`import 'procq'`), after `tsc` has built dist/src/.
 *
 * Why: every process that uses procq imports it before its first item, a spawned child included, and Node's ES
 * module loader pays per file (resolve, stat, read, compile, link): the ~90 files of dist/src/ cost a child about
 * as much again as Node's own start-up, one file about a third of that.
 *
 * How, and the one rule that keeps it correct: a child must use the SAME procq module instance as the user's
 * target module (its classes, its handle revivers). So the files that run as a module of their own in a child or
 * a worker (the bootstraps, the pool's worker, the manager's server and objects) are entry points of the same
 * build, with `splitting`: what they share with the package entry lives in shared chunks, so a bootstrap, and the
 * target module's `import 'procq'`, load one instance. The entries are written flat (`[name].js`), as the
 * library finds them by name next to itself (`new URL('./bootstrap-spawn.js', import.meta.url)`).
 *
 * Dependencies stay external (ioredis and node-gyp-build load from node_modules, on first use).
 * dist/src/ stays as it is: the types, the CLI and the tests use it.
 */
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'dist', 'src');
const outdir = join(root, 'dist', 'bundle');

/** Modules loaded by file name, next to the module that names them: each must be an entry of its own. */
const ENTRIES = [
  'index',
  'process/bootstrap-spawn',
  'process/bootstrap-forkserver',
  'process/bootstrap-thread',
  'pool/worker',
  'manager/server',
  'manager/objects',
];

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: ENTRIES.map((e) => join(src, `${e}.js`)),
  outdir,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
