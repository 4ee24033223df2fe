/**
 * Runs the operations of `ops.ts` on ioredis connections in this thread, never blocking the event loop.
 *
 * - One command connection carries every script and plain command; concurrent operations pipeline on it.
 * - Blocking commands monopolise a connection (Redis answers nothing else on it until they return), so each
 *   waiting operation borrows a blocking connection of its own from a small pool (`duplicate()`s of the command
 *   connection, kept when idle up to `IDLE_BLOCKING`).
 * - Abort (a caller's `AbortSignal`, or `close()`): `CLIENT UNBLOCK <id> TIMEOUT` from the command connection makes
 *   the blocked command return as if its timeout had passed, and its reply is still read. Nothing is lost, unlike
 *   closing the socket, which can drop a reply that already carried an item. The operation then gives back
 *   whatever the reply carried (see `getOp`) and throws the abort's error. An UNBLOCK that arrives before the
 *   server has started the blocking command finds nothing to unblock and is retried until the command returns.
 *   A stray UNBLOCK can only end a later wait early, which the operations treat as a slice boundary. (A Redis user
 *   whose ACL forbids CLIENT UNBLOCK can still abort, at the next slice boundary.)
 * - A command whose connection drops before its reply arrives fails (ioredis' `autoResendUnfulfilledCommands` is
 *   off unless the caller turns it on): resending a put script that did run would put the item twice. Commands
 *   that never left (ioredis' offline queue) are sent once the connection is back. A non-reliable get whose reply
 *   is lost this way loses its item: that is what `reliable: true` is for.
 */
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { onAbort } from '../abort.js';
import { abortErrorFrom, ClosedError, RedisConnectionError } from '../errors.js';
import { type Blocked, connectionError, type Op, type Req } from './ops.js';
import type { Script } from './scripts.js';

/** Blocking connections kept open while idle. */
const IDLE_BLOCKING = 2;

interface BlockingConnection {
  readonly conn: Redis;
  /** `CLIENT ID` of the connection (refreshed when ioredis reconnects). */
  id: number;
}

const noop = (): void => {};

function isNoScript(err: unknown): boolean {
  return String((err as Error)?.message ?? '').startsWith('NOSCRIPT');
}

/** EVALSHA, falling back to EVAL (which caches the script) the first time the server does not know it. */
export async function evalScript(
  conn: Redis,
  s: Script,
  keys: string[],
  args: (string | Buffer | number)[],
): Promise<unknown> {
  try {
    return await conn.callBuffer('evalsha', s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return await conn.callBuffer('eval', s.source, keys.length, ...keys, ...args);
  }
}

export class AsyncDriver {
  readonly cmd: Redis;
  readonly #idle: BlockingConnection[] = [];
  readonly #busy = new Set<BlockingConnection>();
  readonly #closing = new AbortController();
  readonly #inflight = new Set<Promise<unknown>>();

  private constructor(cmd: Redis) {
    this.cmd = cmd;
  }

  /** Connects (rejects when the server cannot be reached, leaving nothing open). */
  static async open(url: string, options: RedisOptions): Promise<AsyncDriver> {
    // ioredis is loaded on first use, so that importing procq (every child process does) does not pay for it.
    const { Redis } = await import('ioredis');
    const cmd = new Redis(url, { autoResendUnfulfilledCommands: false, ...options, lazyConnect: true });
    let first: Error | undefined;
    const onError = (err: Error): void => {
      first ??= err;
    };
    cmd.on('error', onError);
    try {
      await cmd.connect();
    } catch (err) {
      cmd.disconnect();
      const why = first ?? (err as Error);
      throw new RedisConnectionError(
        `cannot connect to Redis at ${redacted(url)}: ${why?.message ?? String(why)}`,
        { cause: why },
      );
    }
    cmd.off('error', onError);
    cmd.on('error', noop); // later errors reach the caller through the commands that fail
    return new AsyncDriver(cmd);
  }

  /**
   * A driver whose connection opens at its first command, made synchronously: for a queue revived from a handle in
   * another thread or process (a reviver cannot wait). Connection errors then reach the first operations.
   */
  static attach(url: string, options: RedisOptions): AsyncDriver {
    const { Redis } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    const cmd = new Redis(url, { autoResendUnfulfilledCommands: false, ...options, lazyConnect: true });
    cmd.on('error', noop);
    return new AsyncDriver(cmd);
  }

  /** Runs `op` to completion. `signal` aborts its blocking waits (the operation decides what to give back). */
  run<R>(op: Op<R>, signal?: AbortSignal): Promise<R> {
    const p = this.#run(op, signal);
    this.#inflight.add(p);
    const forget = (): void => {
      this.#inflight.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  async #run<R>(op: Op<R>, signal: AbortSignal | undefined): Promise<R> {
    let step = op.next();
    while (!step.done) {
      let reply: unknown;
      try {
        reply = await this.#exec(step.value, signal);
      } catch (err) {
        step = op.throw(connectionError(err));
        continue;
      }
      step = op.next(reply);
    }
    return step.value;
  }

  #exec(req: Req, signal: AbortSignal | undefined): Promise<unknown> {
    switch (req.kind) {
      case 'script':
        return evalScript(this.cmd, req.script, req.keys, req.args);
      case 'cmd':
        return this.cmd.callBuffer(req.cmd, ...req.args);
      case 'block':
        return this.#block(req.cmd, req.args, signal);
    }
  }

  async #block(
    cmd: string,
    args: (string | Buffer | number)[],
    signal: AbortSignal | undefined,
  ): Promise<Blocked> {
    const bc = await this.#acquire();
    const closing = this.#closing.signal;
    let abort: Error | undefined;
    let settled = false;
    const abortNow = (): void => {
      if (abort !== undefined || settled) return;
      abort = closing.aborted ? new ClosedError('queue') : abortErrorFrom(signal!);
      void this.#unblock(bc, () => settled);
    };
    const unsubscribe = signal === undefined ? undefined : onAbort(signal, abortNow);
    closing.addEventListener('abort', abortNow);
    try {
      const pending = bc.conn.callBuffer(cmd, ...args);
      if (signal?.aborted || closing.aborted) abortNow();
      const reply = await pending;
      return abort === undefined ? { reply } : { reply, abort };
    } finally {
      settled = true;
      unsubscribe?.();
      closing.removeEventListener('abort', abortNow);
      this.#release(bc);
    }
  }

  async #unblock(bc: BlockingConnection, settled: () => boolean): Promise<void> {
    for (let i = 0; !settled(); i++) {
      const n = await this.cmd.call('CLIENT', 'UNBLOCK', bc.id, 'TIMEOUT').catch(() => 0);
      if (n === 1 || settled()) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2 ** i, 50)));
    }
  }

  async #acquire(): Promise<BlockingConnection> {
    let bc = this.#idle.pop();
    if (bc === undefined) {
      const conn = this.cmd.duplicate();
      conn.on('error', noop);
      await conn.connect();
      const created: BlockingConnection = { conn, id: Number(await conn.call('CLIENT', 'ID')) };
      conn.on('ready', () => {
        conn.call('CLIENT', 'ID').then((id) => {
          created.id = Number(id);
        }, noop);
      });
      bc = created;
    }
    this.#busy.add(bc);
    return bc;
  }

  #release(bc: BlockingConnection): void {
    this.#busy.delete(bc);
    if (!this.#closing.signal.aborted && this.#idle.length < IDLE_BLOCKING) this.#idle.push(bc);
    else quit(bc.conn);
  }

  /**
   * Ends every wait (their operations throw `ClosedError`), lets them give back what they took, runs `last` (on
   * the command connection, still open), disconnects.
   */
  async close(last?: () => Promise<void>): Promise<void> {
    this.#closing.abort();
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await last?.();
    await Promise.all([...this.#idle.splice(0).map((bc) => quit(bc.conn)), quit(this.cmd)]);
  }
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return url;
  }
}

function quit(conn: Redis): Promise<void> {
  return conn.quit().then(
    () => {},
    () => conn.disconnect(),
  );
}
