/**
 * `Listener` and `Client`: Python's `multiprocessing.connection.Listener` / `Client`, connections between programs
 * that did not start each other, over TCP (`'AF_INET'`, an address `[host, port]`) or a unix socket (`'AF_UNIX'`,
 * a path), optionally authenticated by a shared `authkey` (HMAC challenge-response, challenge.ts).
 *
 * ```ts
 * const listener = await Listener.create(['127.0.0.1', 0], { authkey: 'secret' }); // port 0: a free one
 * const [host, port] = listener.address as [string, number];
 * // elsewhere: const conn = await Client([host, port], { authkey: 'secret' }); conn.send('hello');
 * const conn = await listener.accept();
 * await conn.recv(); // 'hello'
 * ```
 *
 * Node binds asynchronously, so `new Listener(...)` starts listening and `await listener.listening` (or
 * `Listener.create`) is when `address` knows the port picked for port 0 and a bind error (`EADDRINUSE`) shows.
 */
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomHex } from '../builtins.js';

import { ClosedError, rejecting } from '../errors.js';
import { describe } from '../sync/core.js';
import { answerChallenge, checkAuthkey, deliverChallenge } from './challenge.js';
import { SocketConnection } from './socket-connection.js';

export type Family = 'AF_INET' | 'AF_UNIX';
/** `[host, port]` for TCP, a path for a unix socket. */
export type Address = readonly [string, number] | string;

export interface ListenerOptions {
  /** @default inferred from the address: `[host, port]` is 'AF_INET', a string 'AF_UNIX'; without an address 'AF_UNIX' */
  family?: Family;
  /** Connections must prove they know this key (`Client(..., { authkey })`). @default none: no authentication */
  authkey?: Uint8Array | string;
  /** Pending connections the OS queues. @default 1 (Python's) */
  backlog?: number;
}

export interface ClientOptions {
  family?: Family;
  authkey?: Uint8Array | string;
}

export function familyOf(address: unknown, family: unknown): Family {
  if (family !== undefined) {
    if (family !== 'AF_INET' && family !== 'AF_UNIX') {
      throw new TypeError(`Expected \`family\` to be 'AF_INET' or 'AF_UNIX', got ${describe(family)}`);
    }
    return family;
  }
  if (address === undefined || typeof address === 'string') return 'AF_UNIX';
  return 'AF_INET';
}

export function checkAddress(address: unknown, family: Family): Address {
  if (family === 'AF_UNIX') {
    if (typeof address !== 'string' || address.length === 0) {
      throw new TypeError(
        `Expected an AF_UNIX address to be a path (a non-empty string), got ${describe(address)}`,
      );
    }
    return address;
  }
  if (
    !Array.isArray(address) ||
    address.length !== 2 ||
    typeof address[0] !== 'string' ||
    !Number.isInteger(address[1]) ||
    address[1] < 0 ||
    address[1] > 65535
  ) {
    throw new TypeError(`Expected an AF_INET address to be [host, port], got ${describe(address)}`);
  }
  return [address[0], address[1]];
}

/** Python's `arbitrary_address`: a fresh socket path in the temporary directory, or localhost port 0. */
function arbitraryAddress(family: Family): Address {
  return family === 'AF_UNIX' ? join(tmpdir(), `procq-listener-${randomHex(6)}`) : ['localhost', 0];
}

export class Listener implements AsyncDisposable {
  readonly #server: Server;
  readonly #family: Family;
  readonly #authkey: Uint8Array | undefined;
  #address: Address;
  #closed = false;
  #bound = false;
  readonly #pending: Socket[] = [];
  readonly #acceptors: { resolve: (s: Socket) => void; reject: (e: Error) => void }[] = [];
  /** Resolves once bound (`address` is then final); rejects with the bind error. */
  readonly listening: Promise<this>;

  constructor(address?: Address, options: ListenerOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const family = familyOf(address, options.family);
    const addr = address === undefined ? arbitraryAddress(family) : checkAddress(address, family);
    const backlog = options.backlog ?? 1;
    if (!Number.isInteger(backlog) || backlog < 0) {
      throw new RangeError(`Expected \`backlog\` to be an integer >= 0, got ${describe(backlog)}`);
    }
    this.#family = family;
    this.#authkey = checkAuthkey(options.authkey);
    this.#address = addr;
    this.#server = createServer({ noDelay: true }, (socket) => {
      const acceptor = this.#acceptors.shift();
      if (acceptor) acceptor.resolve(socket);
      else {
        socket.pause();
        this.#pending.push(socket);
      }
    });
    this.#server.unref();
    this.listening = new Promise<this>((resolve, reject) => {
      this.#server.once('error', (err) => {
        this.#closed = true;
        for (const a of this.#acceptors.splice(0)) a.reject(err);
        reject(err);
      });
      const onListening = () => {
        this.#bound = true;
        const a = this.#server.address();
        if (a !== null && typeof a === 'object') this.#address = [(addr as [string, number])[0], a.port];
        resolve(this);
      };
      if (typeof addr === 'string') this.#server.listen({ path: addr, backlog }, onListening);
      else this.#server.listen({ host: addr[0], port: addr[1], backlog }, onListening);
    });
    this.listening.catch(() => {}); // surfaced by accept() and by awaiting `listening`
  }

  /** A listener that is bound: `new Listener(...)` then `await listening`. */
  static create(address?: Address, options?: ListenerOptions): Promise<Listener> {
    return rejecting(() => new Listener(address, options).listening);
  }

  /** The address clients connect to: `[host, port]` (the real port once `listening` resolved) or the path. */
  get address(): Address {
    return this.#address;
  }

  get family(): Family {
    return this.#family;
  }

  /**
   * Waits for the next client and, with an `authkey`, authenticates it (server challenge first, then the
   * client's). Rejects with `AuthenticationError` when the client's key differs (the connection is closed),
   * `ClosedError` after `close()`. Keeps the event loop alive while it waits.
   */
  accept(): Promise<SocketConnection> {
    return rejecting(async () => {
      if (this.#closed) throw new ClosedError('listener');
      await this.listening;
      const socket =
        this.#pending.shift() ??
        (await new Promise<Socket>((resolve, reject) => {
          this.#server.ref();
          this.#acceptors.push({
            resolve: (s) => {
              if (this.#acceptors.length === 0) this.#server.unref();
              resolve(s);
            },
            reject,
          });
        }));
      socket.resume();
      const conn = new SocketConnection(socket);
      if (this.#authkey !== undefined) {
        try {
          await deliverChallenge(conn, this.#authkey);
          await answerChallenge(conn, this.#authkey);
        } catch (err) {
          conn.close();
          throw err;
        }
      }
      return conn;
    });
  }

  /** Stops listening (a unix socket's file is removed). Connections already accepted stay open. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const s of this.#pending.splice(0)) s.destroy();
    for (const a of this.#acceptors.splice(0)) a.reject(new ClosedError('listener'));
    // A path socket's file is ours to remove; an abstract one ('\0name', Linux) has no file.
    if (this.#bound && typeof this.#address === 'string' && !this.#address.startsWith('\0')) {
      rmSync(this.#address, { force: true });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  get [Symbol.toStringTag](): string {
    return 'Listener';
  }
}

/**
 * Connects to a `Listener` (Python's `Client`). With an `authkey`, answers the server's challenge, then challenges
 * it. Rejects with `AuthenticationError` when the keys differ, the connection error (`ECONNREFUSED`, `ENOENT`)
 * when nobody listens there.
 */
export function Client<T = unknown>(
  address: Address,
  options: ClientOptions = {},
): Promise<SocketConnection<T>> {
  return rejecting(async () => {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const family = familyOf(address, options.family);
    const addr = checkAddress(address, family);
    const authkey = checkAuthkey(options.authkey);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s =
        typeof addr === 'string'
          ? createConnection({ path: addr })
          : createConnection({ host: addr[0], port: addr[1], noDelay: true });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    const conn = new SocketConnection<T>(socket);
    if (authkey !== undefined) {
      try {
        await answerChallenge(conn, authkey);
        await deliverChallenge(conn, authkey);
      } catch (err) {
        conn.close();
        throw err;
      }
    }
    return conn;
  });
}
