/**
 * procq: Python's `multiprocessing` for TypeScript and Node.js. Processes (and worker threads) that share
 * nothing but what they are given, and queues between them over shared memory.
 *
 * Times are milliseconds everywhere (Python uses seconds).
 */
export type { Codec } from './codec/frames.js';
export {
  type Address,
  answerChallenge,
  Client,
  type ClientOptions,
  deliverChallenge,
  type Family,
  Listener,
  type ListenerOptions,
  SocketConnection,
  type Waitable,
  type WaitForOptions,
  wait,
  waitSync,
} from './connection/index.js';
export {
  AbortError,
  AuthenticationError,
  ClosedError,
  Empty,
  EOFError,
  Full,
  InvariantError,
  ManagerGoneError,
  NativeUnavailableError,
  ProcessError,
  ProcqError,
  RemoteError,
  ShutDown,
  TimeoutError,
} from './errors.js';
export type * from './inspect/index.js';
export {
  type ArrayProxy,
  type BarrierProxy,
  BaseManager,
  BaseProxy,
  type ConditionProxy,
  type DictProxy,
  type EventProxy,
  type JoinableQueueProxy,
  type ListProxy,
  type LockProxy,
  Manager,
  type ManagerOptions,
  type NamespaceProxy,
  type QueueProxy,
  type RegisterOptions,
  type Remote,
  type RLockProxy,
  type SemaphoreProxy,
  SyncManager,
  type ValueProxy,
} from './manager/index.js';
export * from './pipe/index.js';
export * from './pool/index.js';
export * from './process/index.js';
export type { JoinableQueueLike, QueueLike } from './queue/contract.js';
export type {
  GetOptions,
  PutOptions,
  QueueOptions,
  SyncGetOptions,
  SyncPutOptions,
} from './queue/options.js';
export { JoinableQueue, Queue, SimpleQueue } from './queue/queue.js';
export * from './redis/index.js';
export {
  ShareableList,
  type ShareableValue,
  SharedMemory,
  type SharedMemoryOptions,
} from './shared-memory/index.js';
export * from './sync/index.js';
