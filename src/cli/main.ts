#!/usr/bin/env node
/** The `procq` command: `procq demo`, `procq bench` (in a checkout of procq), `procq sweep`. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerBenchCommand } from './bench.js';
import { registerDemoCommand } from './demo.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command()
  .name('procq')
  .description(
    "Python's multiprocessing for Node.js: queues between worker threads and processes over shared memory",
  )
  .version(pkg.version);

registerDemoCommand(program);
// The benchmark harness (dist/bench, CPython's baseline script) is not shipped in the npm package: there, `bench`
// is not offered (hidden from the help) and says where it runs instead of failing with a stack trace.
if (existsSync(fileURLToPath(new URL('../../bench/runner.js', import.meta.url)))) {
  registerBenchCommand(program);
} else {
  program
    .command('bench', { hidden: true })
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .action(() => {
      console.error(
        'procq bench is not part of the installed package: it runs from a checkout of the procq repository ' +
          '(`npm install && npm run bench`). The README lists the latest figures.',
      );
      process.exitCode = 1;
    });
}

program
  .command('sweep')
  .description('remove shared-memory segments left in /dev/shm by procq processes that were killed')
  .action(async () => {
    const { sweepSegments } = await import('../memory/shm-segment.js');
    const removed = sweepSegments();
    console.log(
      removed.length === 0 ? 'procq sweep: nothing to remove' : `procq sweep: removed ${removed.join(', ')}`,
    );
  });

await program.parseAsync(process.argv);
