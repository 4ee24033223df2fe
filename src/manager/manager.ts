/**
 * Managers: Python's `multiprocessing.managers.BaseManager` and `SyncManager` (`multiprocessing.Manager()`). A server
 * process holds objects; proxies to them work from any thread or process, on this machine or another.
 *
 * ```ts
 * await using manager = await new Manager().start();
 * const d = await manager.dict();
 * const l = await manager.list([1, 2]);
 * new Process({ target: work, args: [d, l] }).start();   // proxies arrive connected
 * await d.set('answer', 42); await l.append(3); await l.length();
 *
 * // a server other machines use (Python's remote manager):
 * const server = new Manager({ address: ['0.0.0.0', 50000], authkey: 'secret' });
 * await server.start();
 * // elsewhere: const m = await Manager.connect(['host', 50000], { authkey: 'secret' });
 *
 * // your own types (Python's BaseManager.register):
 * class MyManager extends BaseManager {}
 * MyManager.register('Counter', { callable: 'makeCounter', module: './counter.js' });
 * const m = await new MyManager().start();
 * const c = await m.create('Counter', 5);   // or (m as any).Counter(5)
 * await c._callMethod('increment') // or c.increment(), the methods the object has
 * ```
 *
 * The server runs as a daemon `Process` (start method as for any Process), so it ends with its creator; its
 * objects live until `shutdown()` (procq does not count proxy references, so it never frees one early either).
 */
import { rmSync } from 'node:fs';
import { crypto } from '../builtins.js';

import { checkAuthkey } from '../connection/challenge.js';
import { type Address, checkAddress, type Family, familyOf } from '../connection/listener.js';
import { ManagerGoneError, ProcessError, rejecting } from '../errors.js';
import { Pipe } from '../pipe/pipe.js';
import type { StartMethod } from '../process/current.js';
import { moduleExt } from '../process/popen.js';
import { Process } from '../process/process.js';
import { callerModuleUrl, resolveTarget } from '../process/target.js';
import { describe } from '../sync/core.js';
import { clientFor } from './client.js';
import { type BuiltinTypeid, builtins } from './objects.js';
import { fromWireError, type RegistryEntry, type ServerConfig, type WireError } from './protocol.js';
import {
  type ArrayProxy,
  type BarrierProxy,
  type BaseProxy,
  type ConditionProxy,
  type DictProxy,
  type EventProxy,
  type JoinableQueueProxy,
  type ListProxy,
  type LockProxy,
  makeProxy,
  type NamespaceProxy,
  type QueueProxy,
  type RLockProxy,
  type SemaphoreProxy,
  type Token,
  type ValueProxy,
} from './proxy.js';
import { ManagerServer } from './server.js';

export interface ManagerOptions {
  /** Where the server listens: `[host, port]` (port 0: a free one) or a unix socket path. @default a new unix socket path */
  address?: Address;
  family?: Family;
  /** The key clients must know. @default 32 random bytes (read it back from `authkey` to hand to other programs) */
  authkey?: Uint8Array | string;
  /** How the server process starts. @default the current default start method */
  startMethod?: StartMethod;
}

export interface RegisterOptions {
  /** Makes the object on the server: an exported function or class, or the name of an export of `module`. */
  callable?: Function | string;
  /** The module exporting `callable` (a path or a `file:` URL). @default the module calling `register` */
  module?: string | URL;
  /** The methods proxies may call. @default every public method of the object made */
  exposed?: readonly string[];
  /** Add a method named `typeid` to the manager class (Python's `create_method`). @default true */
  createMethod?: boolean;
}

const registries = new WeakMap<Function, Record<string, RegistryEntry>>();
const SERVER_MODULE = new URL(`./server${moduleExt}`, import.meta.url);
const OBJECTS_MODULE = new URL(`./objects${moduleExt}`, import.meta.url).href;
let managerCount = 0;

function addToRegistry(
  cls: typeof BaseManager,
  typeid: string,
  entry: RegistryEntry,
  createMethod: boolean,
): void {
  const own = registries.get(cls) ?? { ...cls._registry() };
  own[typeid] = entry;
  registries.set(cls, own);
  if (createMethod) {
    Object.defineProperty(cls.prototype, typeid, {
      value(this: BaseManager, ...args: unknown[]) {
        return this.create(typeid, ...args);
      },
      writable: true,
      configurable: true,
    });
  }
}

export class BaseManager implements AsyncDisposable {
  readonly #options: ManagerOptions;
  readonly #authkey: Uint8Array;
  #address: Address | undefined;
  #process: Process | undefined;
  #server: ManagerServer | undefined;
  #state: 'initial' | 'started' | 'connected' | 'shutdown' = 'initial';

  constructor(options: ManagerOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    if (options.address !== undefined)
      checkAddress(options.address, familyOf(options.address, options.family));
    this.#options = options;
    this.#authkey = checkAuthkey(options.authkey) ?? crypto().randomBytes(32);
    this.#address = options.address;
  }

  /**
   * Registers a type the manager can make (Python's `BaseManager.register`), on this class and its subclasses.
   * Without `callable`, a client-side registration: the typeid can be asked of a server that knows it.
   */
  static register(typeid: string, options: RegisterOptions = {}): void {
    if (typeof typeid !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(typeid)) {
      throw new TypeError(`Expected \`typeid\` to be an identifier, got ${describe(typeid)}`);
    }
    const { callable, module, exposed, createMethod = true } = options;
    const target =
      callable === undefined
        ? null
        : resolveTarget(
            callable,
            module,
            module === undefined ? callerModuleUrl(BaseManager.register) : undefined,
          );
    // biome-ignore lint/complexity/noThisInStatic: each subclass has a registry of its own, as in Python
    addToRegistry(this, typeid, { target, exposed }, createMethod);
  }

  /** @internal the typeids known to this class (its own and its ancestors'). */
  static _registry(): Record<string, RegistryEntry> {
    for (
      // biome-ignore lint/complexity/noThisInStatic: the registry of the class it is called on
      let c: Function | null = this;
      c !== null && c !== Function.prototype;
      c = Object.getPrototypeOf(c)
    ) {
      const r = registries.get(c);
      if (r !== undefined) return r;
    }
    return {};
  }

  /** The server's address (known once started or connected; the port picked for port 0 included). */
  get address(): Address | undefined {
    return this.#address;
  }

  /** The server process of a started manager (Python's `manager._process`). */
  get process(): Process | undefined {
    return this.#process;
  }

  /** The key clients must know (give it to the programs that `connect`). */
  get authkey(): Uint8Array {
    return this.#authkey;
  }

  /**
   * Starts the server process and waits until it listens. Rejects with the listen error (`EADDRINUSE`), or
   * `ProcessError` when the server process could not start. Returns this manager.
   */
  start(): Promise<this> {
    return rejecting(async () => {
      if (this.#state !== 'initial') throw new ProcessError(`cannot start a manager that is ${this.#state}`);
      const config = this.#config();
      const [reader, writer] = Pipe(false);
      const p = new Process({
        target: 'runManagerServer',
        module: SERVER_MODULE,
        args: [config, writer],
        daemon: true,
        name: `${this.constructor.name}-${++managerCount}`,
        startMethod: this.#options.startMethod,
      });
      p.start();
      writer.close();
      let report: { ok: boolean; address?: Address; error?: WireError };
      try {
        report = (await reader.recv()) as typeof report;
      } catch (err) {
        await p.join();
        throw new ProcessError(
          `the manager's server process ended before it listened (exit code ${p.exitCode})`,
          { cause: err },
        );
      } finally {
        reader.close();
      }
      if (!report.ok) {
        await p.join();
        throw fromWireError(report.error!);
      }
      this.#process = p;
      this.#address = report.address!;
      const socketPath = this.#options.address === undefined ? report.address : undefined;
      if (typeof socketPath === 'string') {
        // A socket path of our choosing: remove it once the server is gone, even if it was killed.
        void p._whenEnded()?.then(() => rmSync(socketPath, { force: true }));
      }
      this.#state = 'started';
      return this;
    });
  }

  /**
   * Serves in this process until a client asks for `shutdown` (Python's `get_server().serve_forever()`): the way
   * to run a manager server as a program of its own.
   */
  serveForever(onListening?: (address: Address) => void): Promise<void> {
    return rejecting(async () => {
      if (this.#state !== 'initial')
        throw new ProcessError(`cannot serve from a manager that is ${this.#state}`);
      const server = await ManagerServer.listen(this.#config());
      this.#server = server;
      this.#address = server.listener.address;
      this.#state = 'started';
      onListening?.(this.#address);
      await server.stopped;
      this.#state = 'shutdown';
    });
  }

  /**
   * Connects to a running server at `address` (Python's `manager.connect()`): checks that it answers and that
   * the key is right (`AuthenticationError` otherwise, `ManagerGoneError` when nobody serves there).
   */
  connect(): Promise<this> {
    return rejecting(async () => {
      if (this.#address === undefined) throw new TypeError('a manager needs an `address` to connect to');
      await clientFor(this.#address, this.#authkey).request({ op: 'release', oid: '' });
      this.#state = 'connected';
      return this;
    });
  }

  /** A manager connected to the server at `address` (`new this({ address, authkey }).connect()`). */
  static connect<M extends BaseManager>(
    this: new (
      options?: ManagerOptions,
    ) => M,
    address: Address,
    options: { authkey?: Uint8Array | string; family?: Family } = {},
  ): Promise<M> {
    return rejecting(() => new this({ ...options, address }).connect());
  }

  /**
   * Makes a `typeid` object on the server and returns its proxy. Rejects with `TypeError` for a typeid the
   * server does not know, the callable's own error, `ManagerGoneError` when the server is gone.
   */
  create<P = BaseProxy>(typeid: string, ...args: unknown[]): Promise<P> {
    return rejecting(async () => {
      const address = this.#address;
      if (address === undefined || this.#state === 'initial') {
        throw new ProcessError(
          'the manager is not started or connected: `await manager.start()` or `connect()` first',
        );
      }
      if (this.#state === 'shutdown') throw new ManagerGoneError('the manager has been shut down');
      const { oid, exposed } = (await clientFor(address, this.#authkey).request({
        op: 'create',
        typeid,
        args,
      })) as {
        oid: string;
        exposed: string[];
      };
      const token: Token = { address, authkey: this.#authkey, oid, typeid, exposed };
      return makeProxy<P>(token);
    });
  }

  /**
   * Stops the server: proxies' calls fail with `ManagerGoneError` from then on. A started manager waits for its
   * server process to end (and ends it when it does not, after 1 s). Idempotent.
   */
  shutdown(): Promise<void> {
    return rejecting(async () => {
      if (this.#state === 'shutdown' || this.#state === 'initial') return;
      const state = this.#state;
      this.#state = 'shutdown';
      if (this.#server !== undefined) {
        this.#server.stop();
        return;
      }
      try {
        await clientFor(this.#address!, this.#authkey).request({ op: 'shutdown' });
      } catch (err) {
        if (!(err instanceof ManagerGoneError)) throw err;
      }
      const p = this.#process;
      if (state === 'started' && p !== undefined) {
        await p.join(1000);
        if (p.exitCode === null) {
          p.terminate();
          await p.join();
        }
      }
    });
  }

  /** `await using`: shuts the manager down at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #config(): ServerConfig {
    const { address, family } = this.#options;
    return {
      address,
      family: family ?? (address === undefined ? undefined : familyOf(address, undefined)),
      authkey: this.#authkey,
      registry: (this.constructor as typeof BaseManager)._registry(),
    };
  }
}

/** Python's `SyncManager`: the shared types of `multiprocessing.Manager()`. */
export class SyncManager extends BaseManager {
  /** A shared `dict` (keys compare as a Map's do). */
  dict(init?: Iterable<[unknown, unknown]> | Record<string, unknown>): Promise<DictProxy> {
    return this.create('dict', ...(init === undefined ? [] : [init instanceof Map ? [...init] : init]));
  }
  list(init?: Iterable<unknown>): Promise<ListProxy> {
    return this.create('list', ...(init === undefined ? [] : [[...init]]));
  }
  Namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    return this.create('Namespace', ...(init === undefined ? [] : [init]));
  }
  Value(typecode: string, value: unknown): Promise<ValueProxy> {
    return this.create('Value', typecode, value);
  }
  Array(typecode: string, init: number | Iterable<unknown>): Promise<ArrayProxy> {
    return this.create('Array', typecode, typeof init === 'number' ? init : [...init]);
  }
  Queue<T = unknown>(maxsize?: number): Promise<QueueProxy<T>> {
    return this.create('Queue', ...(maxsize === undefined ? [] : [maxsize]));
  }
  JoinableQueue<T = unknown>(maxsize?: number): Promise<JoinableQueueProxy<T>> {
    return this.create('JoinableQueue', ...(maxsize === undefined ? [] : [maxsize]));
  }
  Lock(): Promise<LockProxy> {
    return this.create('Lock');
  }
  RLock(): Promise<RLockProxy> {
    return this.create('RLock');
  }
  Semaphore(value = 1): Promise<SemaphoreProxy> {
    return this.create('Semaphore', value);
  }
  BoundedSemaphore(value = 1): Promise<SemaphoreProxy> {
    return this.create('BoundedSemaphore', value);
  }
  Event(): Promise<EventProxy> {
    return this.create('Event');
  }
  Condition(): Promise<ConditionProxy> {
    return this.create('Condition');
  }
  Barrier(parties: number, options: { timeout?: number | null } = {}): Promise<BarrierProxy> {
    return this.create('Barrier', parties, null, options.timeout ?? null);
  }
}

for (const typeid of Object.keys(builtins) as BuiltinTypeid[]) {
  SyncManager.register(typeid, {
    callable: `builtins.${typeid}`,
    module: OBJECTS_MODULE,
    createMethod: false,
  });
}

/** `multiprocessing.Manager()`: a `SyncManager` (`await new Manager().start()`). */
export class Manager extends SyncManager {}
