// Process, every start method, through the public API (src/process/index.ts). One suite, installed once per start
// method (CPython's _test_multiprocessing style). Programs whose output matters (tracebacks, flushing, the seed's
// example 1, parent exit, orphans) run as separate parents from test/fixtures/, and their output is checked.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kHandle } from '../src/codec/index.js';
import { getContext } from '../src/context.js';
import { ProcessError } from '../src/errors.js';
import { loadNative } from '../src/native/index.js';
import {
  activeChildren,
  cpuCount,
  currentProcess,
  getStartMethod,
  isMainProcess,
  Process,
  parentProcess,
  type StartMethod,
  setStartMethod,
} from '../src/process/index.js';
import { findExport, findImport } from '../src/process/target.js';
import * as targets from './fixtures/process-targets.js';
import { exitsWith } from './fixtures/process-targets.js';

const require = createRequire(import.meta.url);
const TARGETS = new URL('./fixtures/process-targets.js', import.meta.url);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const sourceFixture = (name: string) =>
  fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

/** A target defined here but not exported: the child could never find it. */
function helperNotExported(): void {}

/** Runs a fixture parent program to completion and returns its output. */
function runParent(args: string[], execArgv: string[] = []) {
  const r = spawnSync(process.execPath, [...execArgv, ...args], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined, `the parent program did not finish: ${r.error?.message}`);
  return r;
}

/** The running child processes of `ppid`, the resource tracker (`procq-tracker`) left out. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const tracker = readFileSync(`/proc/${entry}/cmdline`, 'latin1').startsWith('procq-tracker\0');
      if (Number(fields[1]) === ppid && fields[0] !== 'Z' && !tracker) out.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** Whether `pid` is still a running process (a zombie waiting for its reaper counts as ended). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits up to `ms` for `pid` to end; polls because it is not our child (nothing else tells us). */
async function endsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (running(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

// Every test must leave no child behind: a leak fails the test that leaked (and is cleaned up).
afterEach(async () => {
  const left = activeChildren();
  for (const p of left) p.kill();
  await Promise.all(left.map((p) => p.join()));
  assert.deepEqual(
    left.map((p) => p.name),
    [],
    'a test left children running',
  );
});

test('a spawned child collecting V8 coverage (NODE_V8_COVERAGE, as c8 sets) writes it at its exit', {
  skip: loadNative() === null ? 'needs OS processes' : false,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procq-coverage-'));
  const before = process.env.NODE_V8_COVERAGE;
  process.env.NODE_V8_COVERAGE = dir;
  try {
    // A target that returns: the child ends through procq's own exit, not through a process.exit() of the target.
    const p = new Process({ target: 'returns', module: TARGETS, startMethod: 'spawn' });
    p.start();
    await p.join();
    assert.equal(p.exitCode, 0);
    const files = readdirSync(dir).filter((f) => f.startsWith('coverage-') && f.endsWith('.json'));
    assert.equal(files.length, 1, `coverage files: ${readdirSync(dir).join(', ') || 'none'}`);
    const report = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as { result: { url: string }[] };
    assert.ok(
      report.result.some((r) => r.url.endsWith('process-targets.js')),
      'the target module is covered',
    );
  } finally {
    if (before === undefined) delete process.env.NODE_V8_COVERAGE;
    else process.env.NODE_V8_COVERAGE = before;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('main process: identity, helpers, cpuCount', () => {
  assert.equal(isMainProcess(), true);
  assert.equal(parentProcess(), null);
  const me = currentProcess();
  assert.equal(me.name, 'MainProcess');
  assert.equal(me.pid, process.pid);
  assert.equal(me.daemon, false);
  assert.equal(me.startMethod, null);
  assert.equal(cpuCount(), availableParallelism());
  assert.deepEqual(activeChildren(), []);
});

test('start method: forkserver by default on Linux (spawn elsewhere); setStartMethod and getContext', () => {
  const before = getStartMethod();
  if (process.env.PROCQ_START_METHOD === undefined) {
    assert.equal(before, process.platform === 'linux' ? 'forkserver' : 'spawn');
    assert.equal(new Process({ target: targets.returns, module: TARGETS }).startMethod, before);
  }
  try {
    setStartMethod('forkserver');
    assert.equal(new Process({ target: targets.returns, module: TARGETS }).startMethod, 'forkserver');
    setStartMethod('thread');
    assert.equal(new Process({ target: targets.returns, module: TARGETS }).startMethod, 'thread');
    setStartMethod('spawn');
    assert.equal(new Process({ target: targets.returns, module: TARGETS }).startMethod, 'spawn');
    assert.throws(() => setStartMethod('fork' as StartMethod), TypeError);
  } finally {
    setStartMethod(before);
  }
  const ctx = getContext('thread');
  assert.equal(ctx.startMethod, 'thread');
  assert.equal(getContext('thread'), ctx);
  assert.equal(new ctx.Process({ target: 'returns', module: TARGETS }).startMethod, 'thread');
  const spawnCtx = getContext('spawn');
  assert.equal(
    new spawnCtx.Process({ target: 'returns', module: TARGETS, startMethod: 'thread' }).startMethod,
    'spawn',
  );
  assert.equal(ctx.cpuCount(), cpuCount());
  assert.throws(() => getContext('fork' as StartMethod), TypeError);
  assert.throws(
    () => new Process({ target: targets.returns, startMethod: 'fork' as StartMethod }),
    TypeError,
  );
});

test('new Process without `module` outside a module file (node -e) fails in start() and says what to do', () => {
  const index = new URL('../src/process/index.js', import.meta.url).href;
  const code = `import { Process } from ${JSON.stringify(index)};
export function f() {}
try { new Process({ target: f }).start(); } catch (e) { console.log(e.name, e.message); }`;
  const r = runParent(['--input-type=module', '-e', code]);
  assert.match(
    r.stdout,
    /^ProcessError cannot tell which module exports the target function 'f'.*pass `module`/,
  );
});

test('the parent reads a module source for an export only as far as it can be sure', () => {
  const cases: Array<[string, string, string | null | undefined]> = [
    ['export function f() {}', 'f', 'f'],
    ['export async function* f() {}', 'f', 'f'],
    ['export const f = () => 1;', 'f', 'f'],
    ['function f() {}\nexport { f as g, h };', 'f', 'g'],
    ['function f() {}\nexport default f;', 'f', 'default'],
    ['export default function f() {}', 'f', 'default'],
    ['function f() {}\nexport function g() {}', 'f', null], // declared, visibly not exported
    ['export function g() {}', 'nowhere', null], // not even mentioned
    ['function f() {}\nEXPORT * from "./x.js";', 'f', undefined], // could come from elsewhere
    ['function f() {}\nEXPORT default { f };', 'f', undefined],
    ['function f() {}\nmodule.EXPORTS.f = f;', 'f', undefined],
    ['import { f } from "./x.js";', 'f', undefined],
  ];
  // Spelled EXPORT here so that this file's own source stays readable to the check (see below).
  for (const [text, name, expected] of cases) {
    const source = text.replace('EXPORTS', 'exports').replace(/EXPORT/g, 'export');
    assert.equal(findExport(source, name), expected, source);
  }
  const from = TARGETS.href;
  assert.deepEqual(findImport("import { exitsWith as e } from './process-targets.js';", 'exitsWith', from), {
    moduleUrl: TARGETS.href,
    exportName: 'exitsWith',
  });
  assert.equal(findImport("import { exitsWith } from 'some-package';", 'exitsWith', from), undefined);
});

for (const method of ['thread', 'spawn', 'forkserver'] as const) {
  describe(`Process (${method})`, () => {
    const make = (options: Omit<ConstructorParameters<typeof Process>[0], 'startMethod'>) =>
      new Process({ module: TARGETS, ...options, startMethod: method });
    const exitCodeOf = async (target: string, args: unknown[] = []) => {
      const p = make({ target, args });
      p.start();
      await p.join();
      return p.exitCode;
    };

    test('before start: exitCode null, not alive, no pid; join rejects; terminate/kill throw', async () => {
      const p = make({ target: 'returns' });
      assert.equal(p.exitCode, null);
      assert.equal(p.isAlive(), false);
      assert.equal(p.pid, undefined);
      assert.equal(p.threadId, undefined);
      await assert.rejects(p.join(), ProcessError);
      assert.throws(() => p.terminate(), ProcessError);
      assert.throws(() => p.kill(), ProcessError);
    });

    test('names default to Process-N, numbered per parent; explicit names kept', () => {
      const a = make({ target: 'returns' });
      const b = make({ target: 'returns' });
      const na = Number(/^Process-(\d+)$/.exec(a.name)?.[1]);
      assert.ok(na > 0, a.name);
      assert.equal(b.name, `Process-${na + 1}`);
      assert.equal(make({ target: 'returns', name: 'worker' }).name, 'worker');
    });

    test('exit code 0 when the target returns; module as a URL, a file: URL string or a path', async () => {
      assert.equal(await exitCodeOf('returns'), 0);
      for (const module of [TARGETS.href, fileURLToPath(TARGETS)]) {
        const p = make({ target: targets.returns, module });
        p.start();
        await p.join();
        assert.equal(p.exitCode, 0);
      }
    });

    test('exit code 1 when the target throws or rejects', async () => {
      assert.equal(await exitCodeOf('throws', ['expected in a test']), 1);
      assert.equal(await exitCodeOf('rejects', ['expected in a test']), 1);
    });

    test('process.exit(n) in the child gives n', async () => {
      assert.equal(await exitCodeOf('exitsWith', [7]), 7);
    });

    test('without `module`, a target the caller imports from a relative module is found there', async () => {
      const p = new Process({ target: exitsWith, args: [3], startMethod: method });
      p.start();
      await p.join();
      assert.equal(p.exitCode, 3);
    });

    test('an async target is awaited', async () => {
      assert.equal(await exitCodeOf('exitsLater', [4]), 4);
    });

    test('args are cloned into the child', async () => {
      const value = { a: [1, 'zwei', '消息'], m: new Map([[1, { deep: true }]]), big: 10n ** 20n };
      const expected = JSON.stringify(value, (_k, v) =>
        v instanceof Map ? [...v] : typeof v === 'bigint' ? String(v) : v,
      );
      const p = make({ target: 'receives', args: [{ ...value, big: String(value.big) }, expected] });
      p.start();
      await p.join();
      assert.equal(p.exitCode, 0);
    });

    test('terminate() gives -15, kill() gives -9; join(timeout) returns with the child alive', async () => {
      const p = make({ target: 'runsForever' });
      p.start();
      assert.equal(p.isAlive(), true);
      await p.join(30);
      assert.equal(p.isAlive(), true);
      assert.equal(p.exitCode, null);
      assert.deepEqual(activeChildren(), [p]);
      p.terminate();
      await p.join();
      assert.equal(p.exitCode, -15);
      assert.equal(p.isAlive(), false);
      assert.deepEqual(activeChildren(), []);
      p.terminate(); // no-op once ended
      assert.equal(p.exitCode, -15);

      const q = make({ target: 'runsForever' });
      q.start();
      q.kill();
      await q.join();
      assert.equal(q.exitCode, -9);
    });

    test('start() twice throws; close() refuses a running child, then the object is unusable', async () => {
      const p = make({ target: 'runsForever' });
      p.start();
      assert.throws(() => p.start(), ProcessError);
      assert.throws(() => p.close(), ProcessError);
      p.kill();
      await p.join();
      p.close();
      assert.throws(() => p.isAlive(), ProcessError);
      await assert.rejects(p.join(), ProcessError);
    });

    test('join() rejects a bad timeout without throwing synchronously', async () => {
      const p = make({ target: 'returns' });
      p.start();
      const bad = p.join(Number.NaN);
      await assert.rejects(bad, RangeError);
      await assert.rejects(p.join('5' as never), TypeError);
      await p.join();
    });

    test("the child sees the parent's process.argv", async () => {
      assert.equal(await exitCodeOf('seesArgv', [process.argv.slice(1)]), 0);
    });

    test('a child starts its own children, named Process-N:M', async () => {
      assert.equal(await exitCodeOf('startsGrandchild', [method]), 0);
    });

    test('join() holds the event loop open for a daemon child', () => {
      const r = runParent([fixture('process-parent.js'), method, 'daemon-join']);
      assert.equal(r.stdout, 'daemon done\njoined 0\n', r.stderr);
      assert.equal(r.status, 0);
    });

    test('pid, threadId, and the child sees itself: name, daemon, startMethod, parent, isMainProcess', async () => {
      for (const daemon of [false, true]) {
        const name = `self-check-${daemon}`;
        const p = make({
          target: targets.checksItself,
          name,
          daemon,
          args: [
            {
              name,
              daemon,
              startMethod: method,
              parentPid: process.pid,
              samePidAsParent: method === 'thread',
            },
          ],
        });
        assert.equal(p.daemon, daemon);
        p.start();
        assert.equal(typeof p.pid, 'number');
        if (method === 'thread') {
          assert.equal(p.pid, process.pid);
          assert.ok((p.threadId ?? 0) > 0);
        } else {
          assert.notEqual(p.pid, process.pid);
          assert.equal(p.threadId, undefined);
        }
        assert.throws(() => {
          p.daemon = !daemon;
        }, ProcessError);
        await p.join();
        assert.equal(p.exitCode, 0, `the child saw itself wrongly (bitmask ${p.exitCode})`);
      }
    });

    test('unresolvable targets fail in start() and say what to export', () => {
      const missing = make({ target: 'returns', module: '/nonexistent/procq-tasks.js' });
      assert.throws(
        () => missing.start(),
        (e: Error) => {
          assert.ok(e instanceof ProcessError);
          assert.match(e.message, /\/nonexistent\/procq-tasks\.js does not exist/);
          assert.match(e.message, /export 'returns'/);
          return true;
        },
      );
      assert.throws(
        () => make({ target: 'noSuchExport' }).start(),
        (e: Error) => {
          assert.ok(e instanceof ProcessError);
          assert.match(e.message, /process-targets\.js does not export 'noSuchExport'/);
          return true;
        },
      );
      // (The name is not spelled out next to `export` here: the parent's check reads this file's source text.)
      const notExported = new Process({ target: helperNotExported, startMethod: method });
      const fnName = helperNotExported.name;
      assert.throws(
        () => notExported.start(),
        (e: Error) => {
          assert.ok(e instanceof ProcessError);
          assert.ok(e.message.includes(`process.test.js does not export '${fnName}'`), e.message);
          assert.ok(e.message.includes(`export the function: \`export function ${fnName}(…)\``), e.message);
          return true;
        },
      );
      assert.throws(() => make({ target: 42 as any }).start(), TypeError);
      assert.throws(() => new Process({ target: 'returns', startMethod: method }).start(), TypeError);
      assert.throws(() => make({ target: 'returns', args: [() => 1] }).start(), TypeError);
      // None of them started anything, and each can still not be joined.
      assert.deepEqual(activeChildren(), []);
      assert.equal(missing.isAlive(), false);
    });

    test('a target the parent cannot check: the child exits 1 at once and says why', () => {
      const notFn = runParent([fixture('process-parent.js'), method, 'not-a-function']);
      assert.equal(notFn.stdout, 'exit 1\n');
      assert.match(
        notFn.stderr,
        /'notAFunction' exported by .*process-targets\.js is a number, not a function/,
      );
      const broken = runParent([fixture('process-parent.js'), method, 'broken-module']);
      assert.equal(broken.stdout, 'exit 1\n');
      assert.match(broken.stderr, /cannot import the target's module .*process-broken\.js/);
      assert.match(broken.stderr, /broken-module-marker/);
    });

    test('a module that starts processes without an isMainProcess() guard does not start them without end', () => {
      const r = runParent([fixture('process-unguarded.js'), method]);
      assert.equal(r.stdout, 'MainProcess: child exit 1\n', r.stderr);
      assert.match(r.stderr, /ProcessError: An attempt has been made to start a new process \(Process-1:1\)/);
      assert.match(r.stderr, /if \(isMainProcess\(\)\)/);
    });

    test("a throwing target prints the error and its stack to the child's stderr", () => {
      const r = runParent([fixture('process-parent.js'), method, 'throw']);
      assert.equal(r.stdout, 'exit 1\n');
      assert.match(
        r.stderr,
        /^Process Process-1:\nError: boom-marker\n\s+at thrower \(.*process-parent\.js:\d+:\d+\)/m,
      );
    });

    for (const scenario of ['flush', 'flush-exit']) {
      test(`the child's output is out before join() resolves (${scenario})`, () => {
        const r = runParent([fixture('process-parent.js'), method, scenario]);
        const lines = r.stdout.split('\n');
        assert.equal(lines.length, 2002, r.stderr);
        for (let i = 0; i < 2000; i++) assert.ok(lines[i]!.startsWith(`line ${i} `), lines[i]);
        assert.equal(lines[2000], 'joined 0');
      });
    }

    test("the seed's example 1: children change their own copy of a global", () => {
      const r = runParent([fixture('process-example1.js'), method]);
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.deepEqual(lines.slice(0, 2), ['main: start', 'main: counter = 100']);
      assert.deepEqual(lines.slice(2, 4).sort(), ['child 1: counter = 150', 'child 2: counter = 50']);
      assert.deepEqual(lines.slice(4), ['main: end', 'main: counter = 100']);
    });

    test('a Queue among the args arrives attached to the same shared memory', () => {
      const r = runParent([fixture('process-queue.js'), method]);
      if (method !== 'thread' && loadNative() === null) {
        // Without the addon a Queue lives in a SharedArrayBuffer, which cannot reach another process.
        assert.match(r.stderr, /ProcessError: cannot pass the arguments of Process-1 to another OS process/);
        return;
      }
      const reads = [0, 1, 2, 3, 4].map((i) => `read: message ${i}\n`).join('');
      assert.equal(r.stdout, `${reads}exit 0\n`, r.stderr);
    });

    test('at parent exit: non-daemon children are waited for, daemon children are ended', async () => {
      const r = runParent([fixture('process-parent.js'), method, 'daemon']);
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^daemon pid \d+$/);
      assert.deepEqual(lines.slice(1), ['main done', 'non-daemon done']);
      const pid = Number(lines[0]!.split(' ')[2]);
      assert.equal(await endsWithin(pid, 1000), true, 'the daemon child outlived its parent');
    });

    test('a loader given to the parent runs in the child: a .ts target (node --import tsx, and the tsx command)', () => {
      const r = runParent([sourceFixture('process-parent.ts'), method, 'tsx'], ['--import', 'tsx']);
      assert.equal(r.stdout, 'typed 42\nexit 0\n', r.stderr);
      const tsxDir = dirname(require.resolve('tsx/package.json'));
      const bin = JSON.parse(readFileSync(join(tsxDir, 'package.json'), 'utf8')).bin;
      const cli = join(tsxDir, typeof bin === 'string' ? bin : bin.tsx);
      const viaCli = runParent([cli, sourceFixture('process-parent.ts'), method, 'tsx']);
      assert.equal(viaCli.stdout, 'typed 42\nexit 0\n', viaCli.stderr);
    });

    if (method !== 'thread') {
      test('an explicit process.exit() in the parent still waits for non-daemon children', () => {
        const r = runParent([fixture('process-parent.js'), method, 'exit-joins']);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, 'main exits\nchild done\n');
      });

      for (const native of ['default', 'off']) {
        test(`a parent killed with SIGKILL leaves no orphan behind (native addon: ${native})`, async () => {
          // With the addon: PR_SET_PDEATHSIG; with PROCQ_NATIVE=off: EOF on the pipe only the parent holds.
          const env = native === 'off' ? { ...process.env, PROCQ_NATIVE: 'off' } : process.env;
          const parent: ChildProcess = spawn(
            process.execPath,
            [fixture('process-parent.js'), method, 'orphan'],
            {
              stdio: ['ignore', 'pipe', 'inherit'],
              env,
            },
          );
          const firstLine = await new Promise<string>((resolve, reject) => {
            let out = '';
            parent.stdout!.on('data', (chunk) => {
              out += chunk;
              if (out.includes('child ready\n')) resolve(out.split('\n')[0]!);
            });
            parent.once('exit', () => reject(new Error(`the parent exited early: ${out}`)));
          });
          const pid = Number(/^child pid (\d+)$/.exec(firstLine)?.[1]);
          assert.ok(pid > 0, firstLine);
          assert.equal(running(pid), true);
          // The forkserver's warm replacement (an idle child of the parent) must not outlive it either.
          let others: number[] = [];
          for (let i = 0; i < 200 && method === 'forkserver' && others.length === 0; i++) {
            others = childrenOf(parent.pid!).filter((p) => p !== pid);
            if (others.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
          }
          if (method === 'forkserver') assert.ok(others.length > 0, 'a warm replacement was started');
          parent.kill('SIGKILL');
          const gone = await endsWithin(pid, 1000);
          if (!gone) process.kill(pid, 'SIGKILL');
          // A warm child may still be booting (Node start-up, seconds under load): its guards act once it is up.
          const left = [];
          for (const other of others) if (!(await endsWithin(other, 15_000))) left.push(other);
          for (const other of left) process.kill(other, 'SIGKILL');
          parent.stdout!.destroy();
          assert.equal(gone, true, 'the child outlived its SIGKILLed parent by more than 1 s');
          assert.deepEqual(left, [], 'warm children outlived their SIGKILLed parent by more than 15 s');
        });
      }

      test('thread-only shared memory cannot be passed to a spawned process', () => {
        // A procq handle whose memory is a SharedArrayBuffer (as a Queue is without the native addon).
        const handle = {
          [kHandle]: () => ({ type: 'TestHandle', state: { sab: new SharedArrayBuffer(8) } }),
        };
        assert.throws(
          () => make({ target: 'receives', args: [handle] }).start(),
          (e: Error) => {
            assert.ok(e instanceof ProcessError);
            assert.match(e.message, /thread-only shared memory/);
            return true;
          },
        );
        assert.deepEqual(activeChildren(), []);
      });
    }
  });
}
