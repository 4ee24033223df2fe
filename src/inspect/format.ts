/** The text forms of `procq ls` and `procq top`: one row per object, fixed columns, like `ipcs` and `htop`. */
import type { OwnerInfo } from './read.js';
import type { Row, StallCode } from './scan.js';

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

function owner(o: OwnerInfo | null | undefined): string {
  if (o === null || o === undefined) return 'free';
  const who = o.tid === o.pid ? `pid ${o.pid}` : `pid ${o.pid} tid ${o.tid}`;
  return `held by ${who}${o.alive === false ? ' (dead)' : o.stopped ? ' (stopped)' : ''}`;
}

export const STALL_TEXT: Record<StallCode, string> = {
  'owner-dead': 'STALL: holder is dead',
  'owner-stopped': 'STALL: holder is stopped',
  'full-no-getter': 'STALL: full, no live getter',
  'empty-no-putter': 'STALL: getters wait, no live putter',
  'creator-dead': 'left behind: creator dead (procq sweep)',
};

/** The STATE, WAITING and MEMORY cells of a row. */
export function describeRow(row: Row): { state: string; waiting: string; memory: string } {
  const r = row as Row & Record<string, any>;
  switch (row.kind) {
    case 'Queue':
    case 'JoinableQueue':
    case 'SimpleQueue': {
      const bound = r.maxsize > 0 ? `/${r.maxsize}` : '';
      const parts = [`${r.qsize}${bound} items${r.bytesQueued === null ? '' : `, ${bytes(r.bytesQueued)}`}`];
      if (r.unfinished !== null) parts.push(`${r.unfinished} unfinished`);
      if (r.shutDown) parts.push('shut down');
      const getters = r.getters === null ? '' : `${r.getters} get, `;
      return {
        state: parts.join(', '),
        waiting: `${getters}${r.putters} put`,
        memory: r.bytesHeld === null ? '' : bytes(r.bytesHeld),
      };
    }
    case 'Lock':
    case 'RLock':
      return {
        state: owner(r.owner) + (r.depth > 1 ? ` x${r.depth}` : ''),
        waiting: String(r.waiters),
        memory: '',
      };
    case 'Semaphore':
    case 'BoundedSemaphore':
      return {
        state: `value ${r.value}${r.bound === null ? '' : ` of ${r.bound}`}`,
        waiting: String(r.waiters),
        memory: '',
      };
    case 'Event':
      return { state: r.set ? 'set' : 'clear', waiting: String(r.waiters), memory: '' };
    case 'Condition':
      return { state: owner(r.owner), waiting: String(r.waiters), memory: '' };
    case 'Barrier':
      return {
        state: `${r.waiting}/${r.parties} arrived${r.broken ? ', broken' : ''}`,
        waiting: String(r.waiting),
        memory: '',
      };
    case 'Pipe': {
      const dir = (e: number) => `to end ${e}: ${r.messages[e]} msgs ${bytes(r.bytes[e])}`;
      const state = r.duplex ? `${dir(0)}; ${dir(1)}` : dir(0);
      return { state, waiting: '', memory: `ends held ${r.holders[0]}/${r.holders[1]}` };
    }
    default:
      return { state: `${r.typecode} x${r.length}, ${owner(r.owner)}`, waiting: '', memory: '' };
  }
}

/** Lays out `cells` (first row: headers) in left-aligned columns separated by two spaces. */
export function table(cells: string[][]): string {
  const widths: number[] = [];
  for (const row of cells) {
    for (let i = 0; i < row.length; i++) widths[i] = Math.max(widths[i] ?? 0, row[i]!.length);
  }
  return cells
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The `procq ls` table. */
export function lsTable(rows: Row[]): string {
  const cells = [['KIND', 'LABEL', 'PID', 'PROCS', 'STATE', 'WAITING', 'MEMORY', 'NOTE']];
  for (const row of rows) {
    const d = describeRow(row);
    cells.push([
      row.kind,
      row.label ?? '-',
      row.pid === null ? '-' : `${row.pid}${row.pidAlive === false ? ' (dead)' : ''}`,
      row.attached === null ? '-' : String(row.attached),
      d.state,
      d.waiting || '-',
      d.memory || '-',
      row.stall === null ? '' : STALL_TEXT[row.stall],
    ]);
  }
  return table(cells);
}
