#!/usr/bin/env node
/** The `procq` command: `procq demo`, `procq bench`, `procq sweep`, `procq ls`, `procq top`. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBenchCommand } from './bench.js';
import { registerDemoCommand } from './demo.js';
import { registerLsCommand } from './ls.js';
import { registerTopCommand } from './top.js';

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
registerBenchCommand(program);
registerLsCommand(program);
registerTopCommand(program);

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
