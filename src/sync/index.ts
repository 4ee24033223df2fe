/**
 * Synchronization over shared memory, for threads and processes alike: Python's `multiprocessing.synchronize`
 * and `sharedctypes`. One file per primitive:
 * 1. `lock.ts`       Lock: non-recursive; any thread may release; a dead holder's lock is recovered
 * 2. `rlock.ts`      RLock: re-entrant, owned by one thread
 * 3. `semaphore.ts`  Semaphore, BoundedSemaphore
 * 4. `event.ts`      Event
 * 5. `condition.ts`  Condition: wait / waitFor / notify(n) / notifyAll, over a Lock or an RLock
 * 6. `barrier.ts`    Barrier
 * 7. `value.ts`      Value: one number;  `shared-array.ts` SharedArray: a fixed-length array (layout: shared-data.ts)
 * Underneath: `owner-word.ts` (the owner-recording lock word), `typecodes.ts`, `core.ts` (places, handles, options).
 *
 * Each object passed to a `Process` (in `args`) or inside a queue item arrives attached to the same memory.
 * Times are milliseconds.
 */
export { BrokenBarrierError, NotOwnerError } from '../errors.js';
export { Barrier } from './barrier.js';
export { Condition, MAX_WAITERS } from './condition.js';
export type { AcquireOptions, SyncAcquireOptions, SyncWaitOptions, WaitOptions } from './core.js';
export { Event } from './event.js';
export { Lock, type LockOptions } from './lock.js';
export { RLock } from './rlock.js';
export { BoundedSemaphore, Semaphore } from './semaphore.js';
export { SharedArray, type SharedArrayOptions, type ViewOf } from './shared-array.js';
export type { LockOption } from './shared-data.js';
export type { BigTypeCode, ElementOf, InputOf, NumberTypeCode, TypeCode } from './typecodes.js';
export { Value, type ValueOptions } from './value.js';
