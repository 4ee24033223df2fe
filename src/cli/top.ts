/**
 * `procq top`: `procq ls` refreshed live, with the items per second into and out of each queue (from the
 * header's put/get counters between two refreshes), busiest first. `--once` prints one screen (two samples
 * `--interval` apart) and exits. Reads only, as `ls`: it never takes a procq lock.
 */
import type { Command } from 'commander';
import type { Row } from '../inspect/scan.js';
import { checkPid } from './ls.js';

interface TopOptions {
  once?: boolean;
  interval: string;
  pid?: string;
}

interface Sample {
  readonly at: number;
  readonly rows: Row[];
}

const keyOf = (r: Row): string => `${r.segment}#${r.base}`;

/** Items per second in and out of each queue between two samples (counters wrap at 2^32). */
function rates(before: Sample, after: Sample): Map<string, { inRate: number; outRate: number }> {
  const seconds = Math.max(1e-3, (after.at - before.at) / 1000);
  const old = new Map(before.rows.map((r) => [keyOf(r), r as Row & { puts?: number; gets?: number }]));
  const out = new Map<string, { inRate: number; outRate: number }>();
  for (const r of after.rows as (Row & { puts?: number; gets?: number })[]) {
    const o = old.get(keyOf(r));
    if (o === undefined || typeof r.puts !== 'number' || typeof o.puts !== 'number') continue;
    out.set(keyOf(r), {
      inRate: ((r.puts - o.puts) >>> 0) / seconds,
      outRate: ((r.gets! - o.gets!) >>> 0) / seconds,
    });
  }
  return out;
}

function rate(n: number | undefined): string {
  if (n === undefined) return '-';
  return n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

async function screen(before: Sample, after: Sample): Promise<string> {
  const { describeRow, STALL_TEXT, table } = await import('../inspect/format.js');
  const r = rates(before, after);
  const activity = (row: Row): number => {
    const x = r.get(keyOf(row));
    return x === undefined ? -1 : x.inRate + x.outRate;
  };
  const rows = [...after.rows].sort(
    (a, b) => activity(b) - activity(a) || Number(b.stall !== null) - Number(a.stall !== null),
  );
  const cells = [['KIND', 'LABEL', 'PID', 'IN/s', 'OUT/s', 'STATE', 'WAITING', 'NOTE']];
  for (const row of rows) {
    const d = describeRow(row);
    const x = r.get(keyOf(row));
    cells.push([
      row.kind,
      row.label ?? '-',
      `${row.pid}${row.pidAlive === false ? ' (dead)' : ''}`,
      rate(x?.inRate),
      rate(x?.outRate),
      d.state,
      d.waiting || '-',
      row.stall === null ? '' : STALL_TEXT[row.stall],
    ]);
  }
  const stalls = rows.filter((row) => row.stall !== null).length;
  const head =
    `procq top - ${new Date(after.at).toISOString().slice(11, 19)} UTC - ${rows.length} objects, ` +
    `${stalls} stalled - every ${after.at - before.at} ms`;
  return `${head}\n\n${table(cells)}`;
}

export function registerTopCommand(program: Command): Command {
  return program
    .command('top')
    .description(
      'procq ls, refreshed live, with items/s in and out of each queue, busiest first (q or Ctrl-C quits)',
    )
    .option('--once', 'print one screen (two samples an interval apart) and exit')
    .option('--interval <ms>', 'milliseconds between refreshes', '1000')
    .option('--pid <pid>', 'only the objects this process created or holds')
    .action(async (opts: TopOptions) => {
      const interval = Number(opts.interval);
      if (!Number.isFinite(interval) || interval < 50) {
        throw new RangeError(
          `Expected \`--interval\` to be a number of milliseconds from 50, got ${opts.interval}`,
        );
      }
      const { listObjects } = await import('../inspect/scan.js');
      const pid = checkPid(opts.pid);
      const sample = (): Sample => ({ at: Date.now(), rows: listObjects(pid) });
      let before = sample();
      const sleep = () => new Promise((resolve) => setTimeout(resolve, interval));
      if (opts.once) {
        await sleep();
        console.log(await screen(before, sample()));
        return;
      }
      let running = true;
      const stop = () => {
        running = false;
      };
      process.once('SIGINT', stop);
      if (process.stdin.isTTY) {
        process.stdin.setRawMode(true);
        process.stdin.resume();
        process.stdin.on('data', (key) => {
          if (key[0] === 0x71 || key[0] === 0x03) stop(); // q, Ctrl-C
        });
      }
      while (running) {
        await sleep();
        if (!running) break;
        const after = sample();
        process.stdout.write(`\x1b[H\x1b[2J${await screen(before, after)}\n`);
        before = after;
      }
      if (process.stdin.isTTY) {
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
    });
}
