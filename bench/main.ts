/** `node dist/bench/main.js [--quick] [--json] [--report FILE.svg] [--filter RE]`: `procq bench` on its own. */
import { Command } from 'commander';
import { registerBenchCommand } from '../src/cli/bench.js';

const program = new Command('procq');
registerBenchCommand(program);
await program.parseAsync(['bench', ...process.argv.slice(2)], { from: 'user' });
