/**
 * The queue's algorithms, written once, free of I/O: each operation is a generator that yields the Redis requests
 * it needs and receives their replies. Two drivers run them: `driver.ts` (async, ioredis connections in this
 * thread) and `sync-bridge.ts` (the `…Sync`/`…Nowait` forms, through a helper thread). So the sync and async forms
 * cannot drift apart, as CPython's `queues.py` shares one code path for `block`/`timeout`.
 *
 * Waiting is never polling: a get blocks in `BLPOP`/`BLMPOP`/`BLMOVE` on the items, a put waiting for room blocks in
 * `BLPOP` on its wake list (see `scripts.ts` for the lost wake-up guard). Blocking waits are cut into slices of
 * `sliceMs` (the watchdog): between slices the operation looks again without waiting, so a client that crashed
 * between a take and its wake-up (or while holding the shutdown sentinel) delays others by one slice at most.
 */
import { Empty, Full, ProcqError, QueueGoneError, RedisConnectionError, ShutDown } from '../errors.js';
import {
  GET,
  GONE,
  JOIN,
  type Keys,
  PUT,
  RECLAIM,
  REPLACE_SENTINEL,
  RESTORE,
  type Script,
  SENTINEL,
  SHUT,
  TASK_DONE,
  TOO_MANY_DONE,
  UNREGISTER,
  WAKE,
} from './scripts.js';

export type Arg = string | Buffer | number;

/** One request: a script or a command on the command connection, or a blocking command on a blocking one. */
export type Req =
  | { readonly kind: 'script'; readonly script: Script; readonly keys: string[]; readonly args: Arg[] }
  | { readonly kind: 'cmd'; readonly cmd: string; readonly args: Arg[] }
  | { readonly kind: 'block'; readonly cmd: string; readonly args: Arg[] };

/** The reply to a `block` request. `abort`: the wait was cut short (abort, close): throw it once restored. */
export interface Blocked {
  readonly reply: unknown;
  readonly abort?: Error;
}

export type Op<R> = Generator<Req, R, unknown>;

/** What the operations need to know about the queue and this client. */
export interface Ctx {
  readonly name: string;
  readonly keys: Keys;
  readonly maxsize: number;
  readonly reliable: boolean;
  /** This consumer's processing list (reliable), else the items key (unused). */
  readonly proc: string;
  /** The server has BLMPOP (Redis 7). */
  readonly blmpop: boolean;
  readonly sliceMs: number;
  /** A fresh member name for a waiter registration. */
  member(): string;
}

/** Registrations outlive the wait they cover by this much (clock skew between client and server, latency). */
const REGISTRATION_SLACK_MS = 5_000;

/** Errors that are the server's answer (a reply), left as they are; the rest become `RedisConnectionError`. */
export function connectionError(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof ProcqError || err.name === 'ReplyError') return err;
  if (err.name === 'AbortError') return err;
  return new RedisConnectionError(`the connection to Redis failed: ${err.message}`, { cause: err });
}

const script = (s: Script, keys: string[], args: Arg[]): Req => ({ kind: 'script', script: s, keys, args });
const block = (cmd: string, args: Arg[]): Req => ({ kind: 'block', cmd, args });

/**
 * Redis timeouts are seconds (a decimal since Redis 6) with millisecond resolution, and 0 means forever: a
 * positive wait is at least 1 ms.
 */
export function seconds(ms: number): string {
  return (Math.max(1, Math.ceil(ms)) / 1000).toFixed(3);
}

const now = (): number => performance.now();

// ------------------------------------------------------------------ put

/**
 * Puts `values` in order, as many per round trip as there is room for. Returns how many were put (all of them).
 * `many`: errors carry `putCount` (how many of the first values were put), as the shared-memory `putMany` does.
 */
export function* putOp(ctx: Ctx, values: Buffer[], deadline: number, many: boolean): Op<number> {
  const k = ctx.keys;
  let done = 0;
  let member = '';
  const fail = (err: Error): Error => (many ? Object.assign(err, { putCount: done }) : err);
  for (;;) {
    const left = deadline - now();
    const wait = Math.min(left, ctx.sliceMs);
    if (left > 0 && member === '') member = ctx.member();
    const r = (yield script(
      PUT,
      [k.items, k.meta, k.putters],
      [
        left > 0 ? member : '',
        Math.max(wait, 0) + REGISTRATION_SLACK_MS,
        ...(done === 0 ? values : values.slice(done)),
      ],
    )) as number;
    if (r === GONE) throw new QueueGoneError(ctx.name);
    if (r === SHUT) throw fail(new ShutDown());
    done += r;
    if (done === values.length) return done;
    if (left <= 0) {
      if (member !== '') yield script(UNREGISTER, [k.meta, k.putters], [member]);
      throw fail(
        many ? new Full(`the queue is full: ${done} of ${values.length} items were put`) : new Full(),
      );
    }
    // Registered as a waiting producer by the script above: sleep until a take wakes us (or a slice passes).
    const b = (yield block('BLPOP', [k.room, seconds(wait)])) as Blocked;
    if (b.abort) {
      // A wake-up meant for a waiting producer must not be lost with this one: pass it on.
      if (b.reply) yield script(WAKE, [k.room, k.putters], [1]);
      yield script(UNREGISTER, [k.meta, k.putters], [member]);
      throw fail(b.abort);
    }
  }
}

// ------------------------------------------------------------------ get

interface Taken {
  readonly status: number;
  readonly values: Buffer[];
}

/** Takes up to `max` items without waiting (script `get`). */
function* takeNow(ctx: Ctx, max: number): Op<Taken> {
  const k = ctx.keys;
  const r = (yield script(
    GET,
    [k.items, k.meta, k.putters, k.room, ctx.proc],
    [max, ctx.reliable ? '1' : '0'],
  )) as [number, ...Buffer[]];
  if (r[0] === GONE) throw new QueueGoneError(ctx.name);
  return { status: r[0], values: r.slice(1) as Buffer[] };
}

/** The blocking pop that fits: BLMOVE into the processing list (reliable), BLMPOP for batches, else BLPOP. */
function blockingPop(ctx: Ctx, max: number, wait: number): Req {
  const k = ctx.keys;
  if (ctx.reliable) return block('BLMOVE', [k.items, ctx.proc, 'LEFT', 'RIGHT', seconds(wait)]);
  if (max > 1 && ctx.blmpop) return block('BLMPOP', [seconds(wait), 1, k.items, 'LEFT', 'COUNT', max]);
  return block('BLPOP', [k.items, seconds(wait)]);
}

function popped(ctx: Ctx, max: number, reply: unknown): Buffer[] {
  if (reply === null || reply === undefined) return [];
  if (ctx.reliable) return [reply as Buffer];
  if (max > 1 && ctx.blmpop) return (reply as [Buffer, Buffer[]])[1];
  return [(reply as [Buffer, Buffer])[1]];
}

/**
 * Takes between 1 and `max` items (oldest first), waiting until `deadline` for the first, never for the rest.
 * Throws `Empty` at the deadline, `ShutDown` once shut down and drained.
 *
 * Reliable consumers: a take whose reply was lost (a connection cut mid-command) left its item in this consumer's
 * processing list, where only this consumer can give it back (its heartbeat goes on, so nobody recovers it). After
 * each slice that took nothing, `reclaimKeep()` says how many entries of the list this client still accounts for
 * (items taken and not yet acknowledged), or undefined when another take or acknowledgement of this client may be
 * under way; the entries beyond them go back to the head of the items (`RECLAIM`), where this take finds them.
 *
 * Abort safety: what the blocking pop took when the wait was cut short goes back to the head of the items, in
 * order (the queue may then hold one batch more than `maxsize` for a moment).
 */
export function* getOp(
  ctx: Ctx,
  max: number,
  deadline: number,
  reclaimKeep?: () => number | undefined,
): Op<Buffer[]> {
  const k = ctx.keys;
  const nowait = deadline <= now();
  // Bounded queues take through the script, which wakes waiting producers in the same step; batches that no
  // single blocking command can take (reliable, or no BLMPOP) also start there.
  if (nowait || ctx.maxsize > 0 || (max > 1 && (ctx.reliable || !ctx.blmpop))) {
    const t = yield* takeNow(ctx, max);
    if (t.values.length > 0) return t.values;
    if (t.status === SHUT) throw new ShutDown();
    if (nowait) throw new Empty();
  }
  for (;;) {
    const left = deadline - now();
    if (left <= 0) {
      // The deadline passed before the wait began (a slow connection): look once more, as `block: false` does, so
      // that an item there, or a shutdown, wins over Empty.
      const t = yield* takeNow(ctx, max);
      if (t.values.length > 0) return t.values;
      if (t.status === SHUT) throw new ShutDown();
      throw new Empty();
    }
    const b = (yield blockingPop(ctx, max, Math.min(left, ctx.sliceMs))) as Blocked;
    const values = popped(ctx, max, b.reply);
    if (b.abort) {
      if (values.length > 0)
        yield script(RESTORE, [k.items, ctx.proc], [ctx.reliable ? '1' : '0', ...values]);
      throw b.abort;
    }
    if (values.length === 0) {
      // A slice passed: give back what lost replies left in the processing list, then look again without waiting
      // (this also puts back a sentinel lost by a crashed client).
      const keep = ctx.reliable ? reclaimKeep?.() : undefined;
      if (keep !== undefined) yield script(RECLAIM, [k.items, ctx.proc], [keep]);
      const t = yield* takeNow(ctx, max);
      if (t.values.length > 0) return t.values;
      if (t.status === SHUT) throw new ShutDown();
      if (deadline <= now()) throw new Empty();
      continue;
    }
    if (SENTINEL.equals(values[values.length - 1]!)) {
      values.pop();
      yield script(REPLACE_SENTINEL, [k.items, ctx.proc], [ctx.reliable ? '1' : '0']);
      if (values.length === 0) throw new ShutDown();
      return values;
    }
    if (ctx.maxsize > 0) yield script(WAKE, [k.room, k.putters], [values.length]);
    if (values.length < max && (ctx.reliable || !ctx.blmpop)) {
      const t = yield* takeNow(ctx, max - values.length);
      values.push(...t.values);
    }
    return values;
  }
}

// ------------------------------------------------------------------ JoinableQueue

/**
 * `taskDone`: acknowledges `ack` (reliable: removes it from this consumer's processing list) and, when `count`,
 * takes one from the unfinished count. Returns the count left.
 */
export function* taskDoneOp(ctx: Ctx, ack: Buffer | undefined, count: boolean): Op<number> {
  const k = ctx.keys;
  const r = (yield script(
    TASK_DONE,
    [k.meta, k.joiners, k.done, ctx.proc],
    [ack ?? '', count ? '1' : '0'],
  )) as number;
  if (r === GONE) throw new QueueGoneError(ctx.name);
  if (r === TOO_MANY_DONE) throw new RangeError('taskDone() called more times than there were items put');
  return r;
}

/** `join`: true once nothing is unfinished, false at the deadline. */
export function* joinOp(ctx: Ctx, deadline: number): Op<boolean> {
  const k = ctx.keys;
  const member = ctx.member();
  for (;;) {
    const left = deadline - now();
    const wait = Math.min(left, ctx.sliceMs);
    const u = (yield script(
      JOIN,
      [k.meta, k.joiners],
      [member, Math.max(wait, 0) + REGISTRATION_SLACK_MS],
    )) as number;
    if (u === GONE) throw new QueueGoneError(ctx.name);
    if (u === 0) return true;
    if (left <= 0) {
      yield script(UNREGISTER, [k.meta, k.joiners], [member]);
      return false;
    }
    const b = (yield block('BLPOP', [k.done, seconds(wait)])) as Blocked;
    if (b.abort) {
      if (b.reply) yield script(WAKE, [k.done, k.joiners], [1]);
      yield script(UNREGISTER, [k.meta, k.joiners], [member]);
      throw b.abort;
    }
  }
}

/** A single script call, its GONE answer turned into the error. */
export function* scriptOp(ctx: Ctx, s: Script, keys: string[], args: Arg[]): Op<unknown> {
  const r = yield script(s, keys, args);
  if (r === GONE || (Array.isArray(r) && r[0] === GONE)) throw new QueueGoneError(ctx.name);
  return r;
}

/** A single script call, its reply as it came (for scripts whose answers are not the queue's). */
export function* rawScriptOp(s: Script, keys: string[], args: Arg[]): Op<unknown> {
  return yield script(s, keys, args);
}
