/**
 * procq's side of each workload: the functions procq `Process` children run (in a worker thread or a spawned
 * process). Each reports on the `ctl` queue: `{ type: 'ready' }`, waits for a token on `go`, runs its loop, then
 * `{ type: 'done', value, rssKb }` (or `{ type: 'error', message }`).
 *
 * This module's top level has no side effects: children import it to find their target.
 */
import { performance } from 'node:perf_hooks';
import type { Queue } from '../../src/index.js';
import { checkItem, itemId, type Kind, makeItem, Tally } from '../lib/payload.js';

export type Form = 'async' | 'sync' | 'batch' | 'batch-sync' | 'into';

export type Ctl =
  | { type: 'ready' }
  | { type: 'pdone' }
  | { type: 'done'; value: unknown; rssKb: number }
  | { type: 'error'; message: string };

export interface RoleCfg {
  form: Form;
  kind: Kind;
  size: number;
  /** Items this role puts or takes (for multi-consumer: items per producer). */
  n: number;
  /** First item id this producer puts. */
  first: number;
  batch: number;
  producers: number;
}

async function role(ctl: Queue<Ctl>, go: Queue<string>, body: () => Promise<unknown>): Promise<void> {
  try {
    await ctl.put({ type: 'ready' });
    await go.get();
    const value = await body();
    await ctl.put({ type: 'done', value, rssKb: process.resourceUsage().maxRSS });
  } catch (e) {
    await ctl.put({ type: 'error', message: (e as Error)?.stack ?? String(e) });
  }
}

/** Puts items `first .. first + n - 1` in the given form; then says `pdone`. */
export function producer(ctl: Queue<Ctl>, go: Queue<string>, q: Queue<unknown>, c: RoleCfg): Promise<void> {
  return role(ctl, go, async () => {
    const { kind, size, n, first, batch } = c;
    const end = first + n;
    switch (c.form) {
      case 'async':
        for (let i = first; i < end; i++) await q.put(makeItem(kind, size, i));
        break;
      case 'sync':
      case 'into':
        for (let i = first; i < end; i++) q.putSync(makeItem(kind, size, i));
        break;
      default:
        for (let i = first; i < end; ) {
          const items: unknown[] = [];
          for (const stop = Math.min(end, i + batch); i < stop; i++) items.push(makeItem(kind, size, i));
          if (c.form === 'batch') await q.putMany(items);
          else q.putManySync(items);
        }
    }
    await ctl.put({ type: 'pdone' });
    return n;
  });
}

/** Takes exactly `n` items, checking each is the next in order (single producer). */
export function consumer(ctl: Queue<Ctl>, go: Queue<string>, q: Queue<unknown>, c: RoleCfg): Promise<void> {
  return role(ctl, go, async () => {
    const { kind, size, n, batch } = c;
    switch (c.form) {
      case 'async':
        for (let i = 0; i < n; i++) checkItem(kind, size, i, await q.get());
        break;
      case 'sync':
        for (let i = 0; i < n; i++) checkItem(kind, size, i, q.getSync());
        break;
      case 'into': {
        const into = Buffer.allocUnsafe(size); // one buffer for every item: getIntoSync returns views of it
        for (let i = 0; i < n; i++) checkItem(kind, size, i, q.getIntoSync(into));
        break;
      }
      default:
        for (let i = 0; i < n; ) {
          const items =
            c.form === 'batch'
              ? await q.getMany(Math.min(batch, n - i))
              : q.getManySync(Math.min(batch, n - i));
          for (const item of items) checkItem(kind, size, i++, item);
        }
    }
    return n;
  });
}

/**
 * Takes items until a `null` sentinel (the parent puts one per consumer after every producer is done); tallies
 * ids for the exactly-once check and checks each producer's order. Returns the ids it saw.
 */
export function tallyConsumer(
  ctl: Queue<Ctl>,
  go: Queue<string>,
  q: Queue<unknown>,
  c: RoleCfg,
): Promise<void> {
  return role(ctl, go, async () => {
    const tally = new Tally(c.producers, c.n);
    const { kind, batch } = c;
    for (;;) {
      let items: unknown[];
      if (c.form === 'async') items = [await q.get()];
      else if (c.form === 'sync') items = [q.getSync()];
      else if (c.form === 'batch') items = await q.getMany(batch);
      else items = q.getManySync(batch);
      let sentinels = 0;
      for (const item of items) {
        if (item === null) sentinels++;
        else if (sentinels) throw new Error('an item after the sentinels');
        else tally.add(itemId(kind, item));
      }
      if (sentinels) {
        for (let k = 1; k < sentinels; k++) await q.put(null); // other consumers' sentinels
        return tally.seen;
      }
    }
  });
}

/** Sends `n` 12-byte strings one at a time, each after the previous came back; returns the round trips (µs). */
export function pinger(
  ctl: Queue<Ctl>,
  go: Queue<string>,
  out: Queue<string>,
  back: Queue<string>,
  c: RoleCfg,
) {
  return role(ctl, go, async () => {
    const rtt = new Float64Array(c.n);
    for (let i = 0; i < c.n; i++) {
      const item = makeItem('str', 12, i) as string;
      const t = performance.now();
      let echo: string;
      if (c.form === 'sync') {
        out.putSync(item);
        echo = back.getSync();
      } else {
        await out.put(item);
        echo = await back.get();
      }
      rtt[i] = (performance.now() - t) * 1000;
      checkItem('str', 12, i, echo);
    }
    return rtt;
  });
}

export function ponger(
  ctl: Queue<Ctl>,
  go: Queue<string>,
  inp: Queue<string>,
  back: Queue<string>,
  c: RoleCfg,
) {
  return role(ctl, go, async () => {
    if (c.form === 'sync') for (let i = 0; i < c.n; i++) back.putSync(inp.getSync());
    else for (let i = 0; i < c.n; i++) await back.put(await inp.get());
    return c.n;
  });
}

/** The startup workload's child: puts one item and returns. */
export async function startupChild(q: Queue<string>): Promise<void> {
  await q.put('first');
}

/**
 * The `jobs` workload's roles: no ready/go handshake, since the clock runs from the first `start()`. A producer
 * puts its jobs and says `pdone`; a consumer tallies jobs until its `null` sentinel and says `done`.
 */
async function farmRole(ctl: Queue<Ctl>, body: () => Promise<unknown>): Promise<void> {
  try {
    const value = await body();
    if (value === undefined) await ctl.put({ type: 'pdone' });
    else await ctl.put({ type: 'done', value, rssKb: process.resourceUsage().maxRSS });
  } catch (e) {
    await ctl.put({ type: 'error', message: (e as Error)?.stack ?? String(e) });
  }
}

export function jobProducer(ctl: Queue<Ctl>, q: Queue<unknown>, c: RoleCfg): Promise<void> {
  return farmRole(ctl, async () => {
    const end = c.first + c.n;
    if (c.form === 'sync') for (let i = c.first; i < end; i++) q.putSync(makeItem('job', 0, i));
    else if (c.form === 'async') for (let i = c.first; i < end; i++) await q.put(makeItem('job', 0, i));
    else
      for (let i = c.first; i < end; ) {
        const items: unknown[] = [];
        for (const stop = Math.min(end, i + c.batch); i < stop; i++) items.push(makeItem('job', 0, i));
        await q.putMany(items);
      }
    return undefined;
  });
}

export function jobConsumer(ctl: Queue<Ctl>, q: Queue<unknown>, c: RoleCfg): Promise<void> {
  return farmRole(ctl, async () => {
    const tally = new Tally(c.producers, c.n);
    for (;;) {
      const items =
        c.form === 'sync' ? [q.getSync()] : c.form === 'async' ? [await q.get()] : await q.getMany(c.batch);
      for (let k = 0; k < items.length; k++) {
        const item = items[k];
        if (item === null) {
          // A batch that took sentinels meant for other consumers gives them back.
          for (k++; k < items.length; k++) await q.put(null);
          return tally.seen;
        }
        const job = item as { id: number };
        checkItem('job', 0, job.id, job);
        tally.add(job.id);
      }
    }
  });
}
