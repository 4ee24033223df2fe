/**
 * Proxies (Python's `BaseProxy` / `AutoProxy`): a handle on an object held by a manager's server, whose methods are
 * the object's exposed methods, each an async remote call (`await d.get('k')`).
 *
 * A proxy is a procq handle: passed in `Process` args, inside a queue item or through a Connection, it arrives
 * connected to the same object (its token: the server's address, the key, the object's id). The key travels with
 * it, as Python's does when it passes a proxy to a child it starts.
 */
import { type HandleDescriptor, kHandle, registerHandle } from '../codec/handles.js';
import type { Address } from '../connection/listener.js';
import type { JoinableQueue, Queue } from '../queue/queue.js';
import { clientFor } from './client.js';
import type {
  ArrayObject,
  BarrierObject,
  DictObject,
  EventObject,
  ListObject,
  LockObject,
  NamespaceObject,
  SemaphoreObject,
  ValueObject,
} from './objects.js';

/** What identifies an object on a server, and how to reach it. */
export interface Token {
  readonly address: Address;
  readonly authkey: Uint8Array;
  readonly oid: string;
  readonly typeid: string;
  readonly exposed: readonly string[];
}

export class BaseProxy {
  readonly #token: Token;

  constructor(token: Token) {
    this.#token = token;
  }

  /** The typeid it was created as (`'dict'`, `'Queue'`, a registered name). */
  get _typeid(): string {
    return this.#token.typeid;
  }

  /** The object's id on its server. */
  get _id(): string {
    return this.#token.oid;
  }

  /** The server's address. */
  get _address(): Address {
    return this.#token.address;
  }

  /**
   * Calls `method` of the object on the server with `args` (Python's `_callmethod`). Rejects with the method's
   * own error (rebuilt as its class when procq knows it: `Empty`, `TypeError`, …), `ManagerGoneError` when the
   * server cannot be reached or goes away during the call.
   */
  _callMethod(method: string, args: readonly unknown[] = []): Promise<unknown> {
    const t = this.#token;
    return clientFor(t.address, t.authkey).request({ op: 'call', oid: t.oid, method, args: [...args] });
  }

  /** @internal */
  [kHandle](): HandleDescriptor {
    return { type: 'ManagerProxy', state: this.#token };
  }

  toString(): string {
    return `<${this._typeid} proxy ${this._id} at ${JSON.stringify(this._address)}>`;
  }

  get [Symbol.toStringTag](): string {
    return `Proxy(${this._typeid})`;
  }
}

/** One proxy class per list of exposed methods (Python's `MakeProxyType`), cached. */
const classes = new Map<string, new (token: Token) => BaseProxy>();

export function makeProxy<P = BaseProxy>(token: Token): P {
  const key = token.exposed.join(',');
  let Cls = classes.get(key);
  if (Cls === undefined) {
    Cls = class extends BaseProxy {};
    for (const name of token.exposed) {
      if (name in BaseProxy.prototype) continue;
      Object.defineProperty(Cls.prototype, name, {
        value(this: BaseProxy, ...args: unknown[]) {
          return this._callMethod(name, args);
        },
        writable: true,
        configurable: true,
      });
    }
    classes.set(key, Cls);
  }
  return new Cls(token) as P;
}

registerHandle('ManagerProxy', (token: Token) => makeProxy(token));

/** The async, remote form of an object's methods. */
export type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** Drops the caller-id parameter of caller-aware methods (the server fills it in). */
type DropFirst<F> = F extends (first: any, ...rest: infer A) => infer R
  ? (...args: A) => Promise<Awaited<R>>
  : never;

export type DictProxy = BaseProxy & Remote<DictObject>;
export type ListProxy = BaseProxy & Remote<ListObject>;
export type NamespaceProxy = BaseProxy & Remote<NamespaceObject>;
export type ValueProxy = BaseProxy & Remote<ValueObject>;
export type ArrayProxy = BaseProxy & Remote<ArrayObject>;
export type LockProxy = BaseProxy & Remote<LockObject>;
export type SemaphoreProxy = BaseProxy & Remote<SemaphoreObject>;
export type EventProxy = BaseProxy & Remote<EventObject>;
export type BarrierProxy = BaseProxy & Remote<BarrierObject>;
export type RLockProxy = BaseProxy & {
  acquire: DropFirst<
    (caller: string, options?: { block?: boolean; timeout?: number | null }) => Promise<boolean>
  >;
  release(): Promise<void>;
};
export type ConditionProxy = RLockProxy & {
  wait(timeout?: number | null): Promise<boolean>;
  notify(n?: number): Promise<void>;
  notifyAll(): Promise<void>;
};
type QueueMethods =
  | 'put'
  | 'get'
  | 'putNowait'
  | 'getNowait'
  | 'qsize'
  | 'empty'
  | 'full'
  | 'putMany'
  | 'getMany'
  | 'shutdown';
export type QueueProxy<T = unknown> = BaseProxy & Remote<Pick<Queue<T>, QueueMethods>>;
export type JoinableQueueProxy<T = unknown> = BaseProxy &
  Remote<Pick<JoinableQueue<T>, QueueMethods | 'taskDone' | 'join'>>;
