/**
 * A manager's server (Python's `managers.Server`): holds the objects, serves proxy calls over a `Listener`.
 *
 * Every client connection is served concurrently, and so is every call on it (a call that waits, such as a queue's
 * `get`, does not hold up the others). Objects live until the server stops (procq does not count proxy references).
 */
import { Listener } from '../connection/listener.js';
import type { SocketConnection } from '../connection/socket-connection.js';
import type { Connection } from '../pipe/connection.js';
import { CALLER_AWARE } from './objects.js';
import { type Request, type Response, type ServerConfig, toWireError } from './protocol.js';

function isClass(fn: Function): boolean {
  return /^class\b/.test(Function.prototype.toString.call(fn));
}

/** The public methods of `obj`: functions on it and its prototypes, not `constructor`, not `_` or `#` named. */
export function publicMethods(obj: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = obj; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === 'constructor' || key.startsWith('_')) continue;
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d && typeof d.value === 'function') names.add(key);
    }
  }
  return [...names];
}

export class ManagerServer {
  readonly listener: Listener;
  readonly #config: ServerConfig;
  readonly #objects = new Map<string, { obj: any; exposed: Set<string> }>();
  readonly #connections = new Set<SocketConnection>();
  #nextOid = 1;
  #nextCaller = 1;
  #stop!: () => void;
  /** Resolves once a client asked for `shutdown` (or `stop()` was called). */
  readonly stopped: Promise<void>;

  private constructor(listener: Listener, config: ServerConfig) {
    this.listener = listener;
    this.#config = config;
    this.stopped = new Promise<void>((resolve) => (this.#stop = resolve));
  }

  static async listen(config: ServerConfig): Promise<ManagerServer> {
    const listener = await Listener.create(config.address, {
      family: config.family,
      authkey: config.authkey,
      backlog: 16,
    });
    const server = new ManagerServer(listener, config);
    void server.#acceptLoop();
    return server;
  }

  /** Stops serving: the listener closes, every client connection closes (their calls fail with ManagerGoneError). */
  stop(): void {
    this.listener.close();
    for (const c of this.#connections) c.close();
    this.#stop();
  }

  async #acceptLoop(): Promise<void> {
    const hold = setInterval(() => {}, 1 << 30); // serving keeps the process alive
    void this.stopped.then(() => clearInterval(hold));
    for (;;) {
      let conn: SocketConnection;
      try {
        conn = await this.listener.accept();
      } catch (err) {
        if ((err as Error).name === 'ClosedError') return;
        continue; // a client that failed authentication: it has been told; go on serving the others
      }
      void this.#serve(conn, `client-${this.#nextCaller++}`);
    }
  }

  async #serve(conn: SocketConnection, caller: string): Promise<void> {
    this.#connections.add(conn);
    try {
      for await (const message of conn) void this.#handle(conn, caller, message as Request);
    } catch {
      // the client went away mid-message: nothing to answer
    } finally {
      this.#connections.delete(conn);
      conn.close();
    }
  }

  async #handle(conn: SocketConnection, caller: string, req: Request): Promise<void> {
    let res: Response;
    try {
      res = { id: req.id, ok: true, value: await this.#run(caller, req) };
    } catch (err) {
      res = { id: req.id, ok: false, error: toWireError(err) };
    }
    try {
      conn.send(res);
    } catch (err) {
      if (res.ok) {
        // the value could not be sent (it does not clone): say so instead
        try {
          conn.send({ id: req.id, ok: false, error: toWireError(err) });
        } catch {}
      }
    }
    if (req.op === 'shutdown') setImmediate(() => this.stop());
  }

  async #run(caller: string, req: Request): Promise<unknown> {
    switch (req.op) {
      case 'create': {
        const entry = this.#config.registry[req.typeid];
        if (entry?.target == null)
          throw new TypeError(`the manager has no callable registered for '${req.typeid}'`);
        const ns = await import(entry.target.moduleUrl);
        const path = entry.target.exportName.split('.');
        let fn: any = ns;
        for (const part of path) fn = fn?.[part];
        if (typeof fn !== 'function')
          throw new TypeError(`${entry.target.moduleUrl} does not export '${entry.target.exportName}'`);
        const obj = isClass(fn) ? new fn(...req.args) : await fn(...req.args);
        if ((typeof obj !== 'object' && typeof obj !== 'function') || obj === null) {
          throw new TypeError(
            `the callable registered for '${req.typeid}' returned ${String(obj)}, not an object`,
          );
        }
        const exposed = entry.exposed ?? publicMethods(obj);
        const oid = `${req.typeid}-${this.#nextOid++}`;
        this.#objects.set(oid, { obj, exposed: new Set(exposed) });
        return { oid, exposed };
      }
      case 'call': {
        const held = this.#objects.get(req.oid);
        if (held === undefined)
          throw new ReferenceError(`the manager holds no object '${req.oid}' (released?)`);
        if (!held.exposed.has(req.method)) {
          throw new TypeError(`method '${req.method}' of '${req.oid.replace(/-\d+$/, '')}' is not exposed`);
        }
        const { obj } = held;
        const callerAware = (obj.constructor as { [CALLER_AWARE]?: Set<string> })?.[CALLER_AWARE]?.has(
          req.method,
        );
        const result = callerAware ? obj[req.method](caller, ...req.args) : obj[req.method](...req.args);
        const value = await result;
        return value === undefined ? null : value;
      }
      case 'release':
        this.#objects.delete(req.oid);
        return null;
      case 'shutdown':
        return null;
    }
  }
}

/**
 * The server process's target (`manager.start()` runs it in a procq Process): serves until shutdown, reporting
 * its address (or why it could not listen) on `report` first.
 */
export async function runManagerServer(config: ServerConfig, report: Connection): Promise<void> {
  let server: ManagerServer;
  try {
    server = await ManagerServer.listen(config);
  } catch (err) {
    report.send({ ok: false, error: toWireError(err) });
    report.close();
    return;
  }
  report.send({ ok: true, address: server.listener.address });
  report.close();
  await server.stopped;
}
