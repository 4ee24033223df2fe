// A program given on the command line (`node --input-type=module -e …`, `node -e`, `node -p`) can start thread-mode
// Processes and Pools: the flags the worker inherits must not stop it from loading its entry.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const index = new URL('../src/index.js', import.meta.url).href;
const targets = new URL('./fixtures/api-targets.js', import.meta.url).href;

const program = `
const { Pool, Process } = await import(${JSON.stringify(index)});
const p = new Process({ target: 'sleepFor', module: ${JSON.stringify(targets)}, args: [1], startMethod: 'thread' });
p.start();
await p.join();
const pool = new Pool({ processes: 1, startMethod: 'thread' });
const squares = await pool.map({ module: ${JSON.stringify(targets)}, name: 'sleepFor' }, [1, 2]);
await pool[Symbol.asyncDispose]();
console.log('exit', p.exitCode, 'map', squares.join(','));
`;

for (const flags of [['--input-type=module', '-e'], ['--input-type', 'module', '--eval'], ['-e']]) {
  test(`node ${flags.join(' ')} <program>: thread-mode Process and Pool work`, () => {
    // CommonJS eval has no top-level await: wrap it.
    const code =
      flags.includes('module') || flags.includes('--input-type=module')
        ? program
        : `(async () => {${program}})()`;
    const r = spawnSync(process.execPath, [...flags, code], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.trim(), 'exit 0 map 1,2');
    assert.equal(r.status, 0);
  });
}
