/**
 * `procq demo`: runs the three programs procq started from (examples/, compiled to dist/examples/, which the npm
 * package ships) with real processes (or worker threads with `--start-method thread`), each in its own fresh
 * Node process, as a user would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { StartMethod } from '../process/current.js';
import { DEFAULT_START_METHOD, START_METHODS } from '../process/start-method.js';

interface DemoProgram {
  file: string;
  title: string;
  point: string;
}

const PROGRAMS: DemoProgram[] = [
  {
    file: '01-separate-memory.js',
    title: '1. Processes do not share globals',
    point: 'each child changes its own copy of `counter`; the parent still sees 100',
  },
  {
    file: '02-bounded-queue.js',
    title: '2. The bounded queue API on its own',
    point:
      'Queue(3): full() after 3 puts, Full after a 2000 ms timeout and at once with putNowait, FIFO gets',
  },
  {
    file: '03-writer-reader.js',
    title: '3. A writer process and a reader process',
    point: 'the parent hands one queue to both; all five writes, then all five reads, in order',
  },
];

export function runDemo(startMethod: StartMethod): number {
  const dir = fileURLToPath(new URL('../../examples/', import.meta.url));
  let failed = 0;
  for (const program of PROGRAMS) {
    const file = dir + program.file;
    console.log(`\n=== ${program.title} (start method: ${startMethod})`);
    console.log(`    ${program.point}\n`);
    if (!existsSync(file)) {
      console.error(`procq demo: ${file} is missing; run \`npm run build\` first`);
      return 1;
    }
    const res = spawnSync(process.execPath, [...process.execArgv, file], {
      stdio: 'inherit',
      env: { ...process.env, PROCQ_START_METHOD: startMethod },
    });
    if (res.status !== 0) {
      failed++;
      console.error(`procq demo: ${program.file} exited with ${res.status ?? res.signal}`);
    }
  }
  console.log(
    failed === 0 ? '\nprocq demo: all three programs ran.' : `\nprocq demo: ${failed} program(s) failed.`,
  );
  return failed === 0 ? 0 : 1;
}

export function registerDemoCommand(program: Command): Command {
  return program
    .command('demo')
    .description('run the three seed programs (separate memory, the bounded queue API, writer and reader)')
    .option(
      '--start-method <method>',
      "'forkserver' or 'spawn' (OS processes), or 'thread' (worker threads)",
      DEFAULT_START_METHOD,
    )
    .action((opts: { startMethod: string }) => {
      if (!(START_METHODS as readonly string[]).includes(opts.startMethod)) {
        program.error(
          `--start-method must be one of ${START_METHODS.map((m) => `'${m}'`).join(', ')}, got '${opts.startMethod}'`,
        );
      }
      process.exitCode = runDemo(opts.startMethod as StartMethod);
    });
}
