// The package as its users get it: `npm pack` run on a clean copy of this checkout (what a fresh clone holds:
// git's files, no dist/, build/ or prebuilds/, so `prepack` must make them), installed with `npm install` into
// throwaway projects, each in its own temporary directory.
//
// One tarball serves a whole test run: scripts/run-tests.mjs sets PROCQ_TEST_TMP, and the first test file that
// asks packs into it (the others wait for it). PROCQ_TARBALL=<file.tgz> uses a tarball made beforehand instead.
import { type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this test run was compiled from (dist/test/helpers/ is three levels down). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The environment of a user's shell: none of the `npm_*` variables of the `npm test` that runs us (a nested
 * npm would take them as its configuration) and none of procq's switches.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k.startsWith('PROCQ_') || k === 'NODE_OPTIONS' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from start to exit. */
  ms: number;
}

/** Runs `cmd args` to its end, without blocking the event loop; kills it (SIGKILL) after `timeoutMs`. */
export function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Ran> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** `what` failed: its output, for the assertion message. */
export const report = (what: string, r: Ran): string =>
  `${what}: exit ${r.status ?? r.signal} after ${Math.round(r.ms)} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** Copies the files git knows of (tracked and new, as they are now on disk) to `dest`. */
function copyCheckout(dest: string): void {
  const opts: SpawnSyncOptions = { cwd: ROOT, encoding: 'utf8' };
  const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], opts);
  if (ls.status !== 0) throw new Error(`git ls-files failed in ${ROOT}: ${String(ls.stderr)}`);
  for (const file of String(ls.stdout).split('\0')) {
    if (!file || !existsSync(join(ROOT, file))) continue; // deleted in the work tree
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dest, file));
  }
  // The dev dependencies (typescript, prebuildify): what `npm ci` would install, borrowed.
  symlinkSync(join(ROOT, 'node_modules'), join(dest, 'node_modules'), 'dir');
}

async function pack(into: string): Promise<string> {
  const clone = mkdtempSync(join(tmpdir(), 'procq-clone-'));
  try {
    copyCheckout(clone);
    const r = await run('npm', ['pack', '--pack-destination', into], {
      cwd: clone,
      env: userEnv(),
      timeoutMs: 600_000,
    });
    const tgz = readdirSync(into).find((f) => f.endsWith('.tgz'));
    if (r.status !== 0 || tgz === undefined) throw new Error(report('npm pack (in a clean copy)', r));
    return join(into, tgz);
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
}

let tarball: Promise<string> | undefined;

/** The path of the packed tarball (made once per test run, see the top of this file). */
export function packedTarball(): Promise<string> {
  tarball ??= findOrPack();
  return tarball;
}

async function findOrPack(): Promise<string> {
  if (process.env.PROCQ_TARBALL) {
    if (!existsSync(process.env.PROCQ_TARBALL))
      throw new Error(`PROCQ_TARBALL=${process.env.PROCQ_TARBALL}: no such file`);
    return process.env.PROCQ_TARBALL;
  }
  if (!process.env.PROCQ_TEST_TMP) {
    const own = mkdtempSync(join(tmpdir(), 'procq-pack-'));
    process.once('exit', () => rmSync(own, { recursive: true, force: true }));
    return pack(own);
  }
  // One packer per run: whoever creates the directory packs; the others wait for its verdict.
  const dir = join(process.env.PROCQ_TEST_TMP, 'pack');
  const done = join(dir, 'done.json');
  try {
    mkdirSync(dir);
  } catch {
    while (!existsSync(done)) await new Promise((r) => setTimeout(r, 200));
    const verdict = JSON.parse(readFileSync(done, 'utf8')) as { tarball?: string; error?: string };
    if (verdict.error !== undefined)
      throw new Error(`packing failed (in another test file): ${verdict.error}`);
    return verdict.tarball!;
  }
  const out = join(dir, 'out');
  mkdirSync(out);
  try {
    const file = await pack(out);
    writeFileSync(done, JSON.stringify({ tarball: file }));
    return file;
  } catch (err) {
    writeFileSync(done, JSON.stringify({ error: (err as Error).message }));
    throw err;
  }
}

export interface Project {
  readonly dir: string;
  /** What `npm install` printed. */
  readonly install: Ran;
  /** Runs `cmd args` in the project, with a user's environment (plus `env`). */
  run(
    cmd: string,
    args: string[],
    options?: { env?: Record<string, string>; timeoutMs?: number },
  ): Promise<Ran>;
  remove(): void;
}

/** `name@version` of a dev dependency of this checkout, so that npm finds it in its cache. */
export function devDependency(name: string): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
    version: string;
  };
  return `${name}@${version}`;
}

/**
 * A new empty ES-module project (`"type": "module"`) in a temporary directory, with the tarball (and `extra`
 * packages) installed by `npm install`; `ignoreScripts`: with `--ignore-scripts` (procq's install script then
 * never runs). Install scripts run in the foreground, so `install.stdout` shows what they printed.
 */
export async function installedProject(options: {
  ignoreScripts: boolean;
  extra?: string[];
}): Promise<Project> {
  const file = await packedTarball();
  const dir = mkdtempSync(join(tmpdir(), 'procq-user-'));
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'procq-user', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'];
  if (options.ignoreScripts) args.push('--ignore-scripts');
  const install = await run('npm', [...args, file, ...(options.extra ?? [])], {
    cwd: dir,
    timeoutMs: 300_000,
  });
  const project: Project = {
    dir,
    install,
    run: (cmd, runArgs, opts = {}) =>
      run(cmd, runArgs, { cwd: dir, env: userEnv(opts.env), timeoutMs: opts.timeoutMs ?? 120_000 }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (install.status !== 0) {
    project.remove();
    throw new Error(report(`npm ${args.join(' ')} ${file}`, install));
  }
  return project;
}
