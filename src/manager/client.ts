/**
 * The client side of a manager: one connection per server per thread, shared by every proxy of that thread, with
 * overlapping calls (requests carry ids). The connection reads only while a call is pending, so an idle proxy
 * keeps no process alive. A server that cannot be reached, or that goes away with calls pending, fails those calls
 * with `ManagerGoneError`: nothing waits forever on a dead manager.
 */
import { type Address, Client } from '../connection/listener.js';
import type { SocketConnection } from '../connection/socket-connection.js';
import { AuthenticationError, ManagerGoneError } from '../errors.js';
import { fromWireError, type Request, type Response } from './protocol.js';

type Outgoing = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

function gone(address: Address, cause: unknown): Error {
  if (cause instanceof AuthenticationError) return cause;
  const where = typeof address === 'string' ? address : `${address[0]}:${address[1]}`;
  return new ManagerGoneError(
    `the manager at ${where} is gone (shut down, or its process died): ${(cause as Error)?.message ?? String(cause)}`,
    { cause },
  );
}

export class ManagerClient {
  readonly address: Address;
  readonly #authkey: Uint8Array;
  #conn: SocketConnection | undefined;
  #connecting: Promise<SocketConnection> | undefined;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #reading = false;

  constructor(address: Address, authkey: Uint8Array) {
    this.address = address;
    this.#authkey = authkey;
  }

  /** Sends one request and resolves with the server's answer (rejects with the server's error). */
  async request(req: Outgoing): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.#connect();
      const id = this.#nextId++;
      const answer = new Promise<unknown>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
      try {
        conn.send({ ...req, id } as Request);
      } catch (err) {
        this.#pending.delete(id);
        if ((err as Error).name === 'BrokenPipeError' || (err as Error).name === 'ClosedError') {
          // An idle connection whose server went away (and maybe came back, restarted on the same address):
          // nothing was sent, so connect again once.
          this.#drop(conn);
          if (attempt === 0) continue;
          throw gone(this.address, err);
        }
        throw err; // a value that does not clone: a TypeError for the caller
      }
      void this.#readLoop(conn);
      return answer;
    }
  }

  #connect(): Promise<SocketConnection> {
    // Ready with no call pending can only mean EOF: the server closed this idle connection.
    if (this.#conn !== undefined && this.#pending.size === 0 && this.#conn._isReady()) this.#drop(this.#conn);
    if (this.#conn !== undefined) return Promise.resolve(this.#conn);
    this.#connecting ??= Client(this.address, { authkey: this.#authkey }).then(
      (conn) => {
        this.#conn = conn;
        this.#connecting = undefined;
        return conn;
      },
      (err) => {
        this.#connecting = undefined;
        throw gone(this.address, err);
      },
    );
    return this.#connecting;
  }

  #drop(conn: SocketConnection): void {
    if (this.#conn === conn) this.#conn = undefined;
    conn.close();
  }

  /** Reads answers while calls are pending; fails them all when the connection ends. */
  async #readLoop(conn: SocketConnection): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (this.#pending.size > 0) {
        let res: Response;
        try {
          res = (await conn.recv()) as Response;
        } catch (err) {
          this.#drop(conn);
          const error = gone(this.address, err);
          for (const p of this.#pending.values()) p.reject(error);
          this.#pending.clear();
          return;
        }
        const p = this.#pending.get(res.id);
        if (p === undefined) continue;
        this.#pending.delete(res.id);
        if (res.ok) p.resolve(res.value);
        else p.reject(fromWireError(res.error));
      }
    } finally {
      this.#reading = false;
    }
  }
}

/** This thread's clients, by server address and key. */
const clients = new Map<string, ManagerClient>();

export function clientFor(address: Address, authkey: Uint8Array): ManagerClient {
  const key = `${JSON.stringify(address)}|${Buffer.from(authkey).toString('hex')}`;
  let c = clients.get(key);
  if (c === undefined) {
    c = new ManagerClient(address, authkey);
    clients.set(key, c);
  }
  return c;
}
