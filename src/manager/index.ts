/**
 * Python's `multiprocessing.managers`:
 * 1. `manager.ts`   BaseManager (register, start, connect, shutdown), SyncManager, Manager
 * 2. `proxy.ts`     BaseProxy and the proxy types; a proxy is a procq handle
 * 3. `client.ts`    one connection per server per thread, overlapping calls, ManagerGoneError when the server is gone
 * 4. `server.ts`    the server: a Listener, the objects, concurrent calls
 * 5. `objects.ts`   the built-in shared types (dict, list, Namespace, Lock, Event, …)
 * 6. `protocol.ts`  the messages, and errors across the wire
 */
export { BaseManager, Manager, type ManagerOptions, type RegisterOptions, SyncManager } from './manager.js';
export {
  type ArrayProxy,
  type BarrierProxy,
  BaseProxy,
  type ConditionProxy,
  type DictProxy,
  type EventProxy,
  type JoinableQueueProxy,
  type ListProxy,
  type LockProxy,
  type NamespaceProxy,
  type QueueProxy,
  type Remote,
  type RLockProxy,
  type SemaphoreProxy,
  type ValueProxy,
} from './proxy.js';
