/**
 * The README runs as written. Every ```ts block of README.md is a whole program; each one is
 * 1. compiled on its own (its own file, its own module) by `tsc --strict`, in a new project where the packed
 *    procq is installed (`npm install --ignore-scripts procq-*.tgz typescript @types/node`), as a user would;
 * 2. run on its own (`node block-N.js`): it must exit 0 by itself within RUN_LIMIT_MS, and write nothing to
 *    stderr;
 * 3. checked against the output it states. The convention, explained in the README too: a comment
 *    `// prints: TEXT` (at the end of a line, or on a line of its own) states that the program prints the line
 *    TEXT. Every stated line must appear in stdout as a whole line, in the order of the comments (other lines may
 *    come between them). Other comments are prose and are not checked.
 *
 * A block that reads `process.env.REDIS_URL` gets a redis-server started for this test (helpers/redis-server.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { devDependency, installedProject, type Project, type Ran, ROOT, report } from './helpers/package.js';
import { type RedisServer, redisSkipReason, startRedis } from './helpers/redis-server.js';

const RUN_LIMIT_MS = 30_000;

interface Block {
  /** block-1, block-2, … in README order. */
  name: string;
  /** Line of the opening fence in README.md (1-based). */
  line: number;
  code: string;
  /** The `// prints:` lines, in order. */
  prints: string[];
  usesRedis: boolean;
}

function readmeBlocks(): Block[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks: Block[] = [];
  for (const m of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const code = m[1]!;
    blocks.push({
      name: `block-${blocks.length + 1}`,
      line: text.slice(0, m.index).split('\n').length,
      code,
      prints: [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((p) => p[1]!.trimEnd()),
      usesRedis: code.includes('process.env.REDIS_URL'),
    });
  }
  return blocks;
}

/** Where the `expected` lines, in order, fail to appear among `lines`; undefined when they all do. */
function missingInOrder(lines: string[], expected: string[]): string | undefined {
  let at = 0;
  for (const want of expected) {
    const found = lines.indexOf(want, at);
    if (found < 0) return want;
    at = found + 1;
  }
  return undefined;
}

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023', 'ESNext.Disposable'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    moduleDetection: 'force', // each block is a module of its own, sharing no globals
    strict: true,
    skipLibCheck: false, // procq's own .d.ts files must compile in a user's strict project too
    types: ['node'],
  },
  include: ['block-*.ts'],
};

const blocks = readmeBlocks();

describe('README.md', () => {
  let project: Project;
  let compiled: Ran;
  let redis: RedisServer | undefined;
  const redisSkip = blocks.some((b) => b.usesRedis) ? redisSkipReason() : undefined;

  before(async () => {
    project = await installedProject({
      ignoreScripts: true,
      extra: [devDependency('typescript'), devDependency('@types/node')],
    });
    writeFileSync(join(project.dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    for (const b of blocks) writeFileSync(join(project.dir, `${b.name}.ts`), b.code);
    compiled = await project.run('npx', ['tsc', '-p', 'tsconfig.json'], { timeoutMs: 300_000 });
    if (blocks.some((b) => b.usesRedis) && redisSkip === undefined) redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    project?.remove();
  });

  test('has ts blocks, with stated output', () => {
    assert.ok(blocks.length >= 4, `only ${blocks.length} ts blocks found`);
    assert.ok(
      blocks.filter((b) => b.prints.length > 0).length >= 4,
      'fewer than 4 blocks state their output',
    );
  });

  test("procq's .d.ts files compile in the same strict project (skipLibCheck: false)", () => {
    const elsewhere = (compiled.stdout + compiled.stderr)
      .split('\n')
      .filter((l) => /error TS\d+/.test(l) && !/^block-\d+\.ts/.test(l));
    assert.deepEqual(elsewhere, []);
  });

  for (const b of blocks) {
    const where = `the ts block at README.md:${b.line}`;
    test(`${where} compiles under tsc --strict against the packed package`, () => {
      const errors = (compiled.stdout + compiled.stderr)
        .split('\n')
        .filter((l) => l.startsWith(`${b.name}.ts`))
        .map((l) =>
          l.replace(/^block-\d+\.ts\((\d+),(\d+)\)/, (_, n, c) => `README.md:${b.line + Number(n)}:${c}`),
        );
      assert.deepEqual(errors, [], `${where} does not compile`);
    });

    test(`${where} runs on its own, exits by itself and prints what it states`, {
      skip: b.usesRedis && redisSkip,
    }, async () => {
      const r = await project.run('node', [`${b.name}.js`], {
        env: redis ? { REDIS_URL: redis.url } : {},
        timeoutMs: RUN_LIMIT_MS,
      });
      assert.notEqual(
        r.signal,
        'SIGKILL',
        report(`${where} did not exit by itself within ${RUN_LIMIT_MS} ms`, r),
      );
      assert.equal(r.status, 0, report(where, r));
      assert.equal(r.stderr, '', report(`${where} wrote to stderr`, r));
      const missing = missingInOrder(r.stdout.split('\n'), b.prints);
      assert.equal(missing, undefined, report(`${where}: "${missing}" is not printed (in order)`, r));
    });
  }
});
