/**
 * The `…Sync` and `…Nowait` forms, and `qsize()`/`empty()`/`full()`, over a network client that only has async
 * I/O: a helper worker thread owns a Redis connection of its own; this thread posts it one request and sleeps in
 * `Atomics.wait` until the worker stores 1 in a shared flag, then reads the reply with `receiveMessageOnPort`.
 *
 * - The worker runs no procq code: it is a short CommonJS program (below) that executes raw commands and scripts,
 *   so it needs no loader (tsx or not). One worker serves every queue of this thread on the same server and
 *   options (`SyncBridge.shared`): a sync call blocks its thread, so there is never more than one request at a
 *   time to serve. It starts when the first queue connects (in the background: starting a thread takes from tens
 *   of milliseconds to seconds on a loaded machine, which a first `getNowait()` should not pay), and ends when the
 *   last queue using it closes.
 * - The operations themselves (`ops.ts`) run here, the same generators the async forms run.
 * - The worker is `unref()`ed: it never keeps the process alive. `close()` ends it.
 * - As with any blocking call, a `…Sync` call blocks this thread's event loop for its round trips; a bounded
 *   `putSync` waiting for a consumer in this same thread deadlocks (as with the shared-memory `Queue`).
 */
import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { RedisOptions } from 'ioredis';
import { type Blocked, type Op, RedisConnectionError, type Req } from './ops.js';

const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const { Redis } = require(workerData.ioredis);
const { port, url, options } = workerData;
const flag = new Int32Array(workerData.flag);
const client = new Redis(url, options);
client.on('error', () => {});
const toBuffer = (a) => (a instanceof Uint8Array ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : a);
// Replies are copied into exact-size arrays: a Buffer slice would carry its whole backing store across.
const own = (v) => (v instanceof Uint8Array ? new Uint8Array(v) : Array.isArray(v) ? v.map(own) : v);
async function exec(r) {
  const args = r.args.map(toBuffer);
  if (r.kind !== 'script') return client.callBuffer(r.cmd, ...args);
  try {
    return await client.callBuffer('evalsha', r.sha, r.keys.length, ...r.keys, ...args);
  } catch (err) {
    if (!String(err && err.message).startsWith('NOSCRIPT')) throw err;
    return client.callBuffer('eval', r.source, r.keys.length, ...r.keys, ...args);
  }
}
port.on('message', async (r) => {
  let msg;
  try {
    msg = { ok: true, value: own(await exec(r)) };
  } catch (err) {
    msg = { ok: false, name: (err && err.name) || 'Error', message: String((err && err.message) || err) };
  }
  port.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

/** How long this thread sleeps between checks that the worker is still there. */
const CHECK_MS = 1_000;

function asBuffers(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(asBuffers);
  return v;
}

/** The options the worker can be given: functions (e.g. `retryStrategy`) cannot cross threads and are left out. */
export function cloneable(options: RedisOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (typeof v !== 'function') out[k] = v;
  return out;
}

interface Shared {
  readonly bridge: SyncBridge;
  users: number;
  idle?: NodeJS.Timeout;
}
const shared = new Map<string, Shared>();

/** A bridge no queue uses is kept this long for the next queue that connects (a thread takes time to start). */
const KEEP_IDLE_MS = 30_000;

export class SyncBridge {
  /**
   * The bridge of this thread for `url` and `options`, started when missing. Every `shared()` is matched by one
   * `release()`.
   */
  static shared(url: string, options: RedisOptions, sliceMs: number): SyncBridge {
    const key = JSON.stringify([url, cloneable(options), sliceMs]);
    let entry = shared.get(key);
    if (entry === undefined) {
      entry = { bridge: new SyncBridge(url, options, sliceMs), users: 0 };
      entry.bridge.#key = key;
      shared.set(key, entry);
    }
    entry.users++;
    clearTimeout(entry.idle);
    return entry.bridge;
  }

  #key: string | undefined;

  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #flag = new Int32Array(new SharedArrayBuffer(4));
  #exited = false;
  /** Longest a single blocking request may take (its Redis timeout) plus a margin: then the worker is deemed lost. */
  readonly #limitMs: number;

  constructor(url: string, options: RedisOptions, sliceMs: number) {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#limitMs = sliceMs + 60_000;
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        port: port2,
        flag: this.#flag.buffer,
        url,
        options: cloneable(options),
        ioredis: createRequire(import.meta.url).resolve('ioredis'),
      },
      transferList: [port2],
    });
    this.#worker.unref();
    this.#worker.on('error', () => {});
    this.#worker.on('exit', () => {
      this.#exited = true;
    });
  }

  /** Runs `op` to completion, blocking this thread. */
  run<R>(op: Op<R>): R {
    let step = op.next();
    while (!step.done) {
      let reply: unknown;
      try {
        reply = this.#exec(step.value);
      } catch (err) {
        step = op.throw(err);
        continue;
      }
      step = op.next(reply);
    }
    return step.value;
  }

  #exec(req: Req): unknown {
    const msg =
      req.kind === 'script'
        ? { kind: 'script', sha: req.script.sha, source: req.script.source, keys: req.keys, args: req.args }
        : { kind: req.kind, cmd: req.cmd, args: req.args };
    Atomics.store(this.#flag, 0, 0);
    this.#port.postMessage(msg);
    const limit = performance.now() + this.#limitMs;
    while (Atomics.load(this.#flag, 0) === 0) {
      Atomics.wait(this.#flag, 0, 0, CHECK_MS);
      if (Atomics.load(this.#flag, 0) !== 0) break;
      if (this.#exited || performance.now() > limit) {
        throw new Error('the Redis helper thread of the sync forms stopped answering');
      }
    }
    const received = receiveMessageOnPort(this.#port)?.message as
      | { ok: true; value: unknown }
      | { ok: false; name: string; message: string }
      | undefined;
    if (received === undefined) throw new Error('the Redis helper thread of the sync forms sent no reply');
    if (!received.ok) {
      if (received.name === 'ReplyError')
        throw Object.assign(new Error(received.message), { name: 'ReplyError' });
      throw new RedisConnectionError(`the connection to Redis failed: ${received.message}`);
    }
    const value = asBuffers(received.value);
    return req.kind === 'block' ? ({ reply: value } satisfies Blocked) : value;
  }

  /** One user of a shared bridge is done with it; the last one ends the worker. */
  release(): void {
    const entry = this.#key === undefined ? undefined : shared.get(this.#key);
    if (entry === undefined || entry.bridge !== this) {
      void this.close();
      return;
    }
    if (--entry.users > 0) return;
    entry.idle = setTimeout(() => {
      if (entry.users > 0) return;
      shared.delete(this.#key!);
      void this.close();
    }, KEEP_IDLE_MS);
    entry.idle.unref();
  }

  close(): Promise<number> {
    this.#port.close();
    return this.#worker.terminate();
  }
}
