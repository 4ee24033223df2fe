/**
 * `procq ls`: every live procq object on this machine readable by this user (queues, locks, semaphores, events,
 * conditions, barriers, values, arrays, pipes), one row each; `--json` for the same as a JSON array;
 * `--redis URL` for the procq queues in a Redis. Reads only: takes no lock, so looking cannot stall anything.
 * The fields: docs/INSPECT.md.
 */
import type { Command } from 'commander';

interface LsOptions {
  json?: boolean;
  redis?: string;
  prefix?: string;
  pid?: string;
}

export function registerLsCommand(program: Command): Command {
  return program
    .command('ls')
    .description(
      'list live procq objects (queues, locks, pipes, …) with their state, holders and waiters, and mark stalls',
    )
    .option('--json', 'print a JSON array of objects (the fields: docs/INSPECT.md in the procq repository)')
    .option('--redis <url>', 'list the procq queues in this Redis instead (redis://host:port)')
    .option('--prefix <prefix>', 'with --redis: the key prefix of the queues', 'procq:')
    .option('--pid <pid>', 'only the objects this process created or holds')
    .action(async (opts: LsOptions) => {
      const { lsTable } = await import('../inspect/format.js');
      let rows: object[];
      if (opts.redis !== undefined) {
        const { listRedisQueues } = await import('../inspect/redis.js');
        rows = await listRedisQueues(opts.redis, opts.prefix);
      } else {
        const { listObjects } = await import('../inspect/scan.js');
        rows = listObjects(checkPid(opts.pid));
      }
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) console.log('procq ls: no procq objects found');
      else console.log(lsTable(rows as Parameters<typeof lsTable>[0]));
    });
}

/** The `--pid` option: a process id, or undefined. */
export function checkPid(pid: string | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0)
    throw new RangeError(`Expected \`--pid\` to be a process id, got ${pid}`);
  return n;
}
