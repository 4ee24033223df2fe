/**
 * procq: Python's `multiprocessing` for TypeScript and Node.js. Processes (and worker threads) that share
 * nothing but what they are given, and queues between them over shared memory.
 *
 * Times are milliseconds everywhere (Python uses seconds); a negative timeout is 0 (Python's rule).
 *
 * The public API, listed name by name: what is not exported here is internal and may change.
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
export { type Context, getContext } from './context.js';
export {
  AbortError,
  AuthenticationError,
  BrokenBarrierError,
  BrokenPipeError,
  ClosedError,
  Empty,
  EOFError,
  Full,
  InvariantError,
  ManagerGoneError,
  NativeUnavailableError,
  NotOwnerError,
  ProcessError,
  ProcqError,
  QueueGoneError,
  RedisConnectionError,
  RemoteError,
  SharedMemoryFull,
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

// Pipes
export { Connection } from './pipe/connection.js';
export { MAX_HOLDERS } from './pipe/control.js';
export { Pipe } from './pipe/pipe.js';

// Pool
export type { FunctionRef, PoolFunction } from './pool/functions.js';
export type { IMapIterator } from './pool/jobs.js';
export type { MapOptions, PoolOptions } from './pool/options.js';
export { type MapAsyncOptions, type NamedFunction, Pool } from './pool/pool.js';
export { AsyncResult, type ResultCallbacks } from './pool/result.js';

// Processes
export {
  cpuCount,
  currentProcess,
  isMainProcess,
  type ParentInfo,
  type ProcessInfo,
  parentProcess,
  type StartMethod,
} from './process/current.js';
export { activeChildren, Process, type ProcessOptions, type TargetArgs } from './process/process.js';
export { getStartMethod, setStartMethod, warmForkserver } from './process/start-method.js';

// Queues over shared memory, and the contract every transport implements
export type { JoinableQueueLike, QueueLike } from './queue/contract.js';
export type {
  GetOptions,
  PutOptions,
  QueueOptions,
  SyncGetOptions,
  SyncPutOptions,
} from './queue/options.js';
export { JoinableQueue, Queue, SimpleQueue } from './queue/queue.js';

// Queues over Redis
export type { RedisQueueOptions } from './redis/options.js';
export { connectQueue, RedisJoinableQueue, RedisQueue } from './redis/queue.js';

// Shared memory blocks (multiprocessing.shared_memory)
export {
  ShareableList,
  type ShareableValue,
  SharedMemory,
  type SharedMemoryOptions,
} from './shared-memory/index.js';

// Synchronization and shared data
export { Barrier } from './sync/barrier.js';
export { Condition, MAX_WAITERS } from './sync/condition.js';
export type { AcquireOptions, SyncAcquireOptions, SyncWaitOptions, WaitOptions } from './sync/core.js';
export { Event } from './sync/event.js';
export { Lock, type LockOptions } from './sync/lock.js';
export { RLock } from './sync/rlock.js';
export { BoundedSemaphore, Semaphore } from './sync/semaphore.js';
export { SharedArray, type SharedArrayOptions, type ViewOf } from './sync/shared-array.js';
export type { LockOption } from './sync/shared-data.js';
export type {
  BigTypeCode,
  ElementOf,
  InputOf,
  IntegerTypeCode,
  NumberTypeCode,
  TypeCode,
} from './sync/typecodes.js';
export { Value, type ValueOptions } from './sync/value.js';
