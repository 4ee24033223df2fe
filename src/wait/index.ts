/**
 * The waiting layer: how every part of procq (the ring and queue, `sync/`, the pipe) waits on shared memory and
 * wakes whoever waits. Below the ring; it knows segments and words, nothing of queues.
 *
 *   1. `identity.ts`    who an owner or a waiter is: (thread id, start time), which pid reuse cannot fake
 *   2. `advert.ts`      waiters advertise themselves, so that wakers wake only when someone waits
 *   3. `spin.ts`        spinning only while it pays: a budget per wait site, learnt from its recent waits
 *   4. `group.ts`       one sleeper per (thread, word) shared by every pending async wait on it
 *   5. `wait-word.ts`   `WaitWord`: wait (spin, advertise, re-check, sleep in slices) and wake (n, or all)
 *   6. `owner-word.ts`  `OwnerWord`: the one lock-in-shared-memory, with deadlines and a dead-owner policy
 */
export {
  type Advert,
  advertise,
  anyoneWaiting,
  PRUNE_INTERVAL_MS,
  type Waiters,
  withdraw,
} from './advert.js';
export { ownerId, ownerLives, ownerStart, ownerWord, tidOf } from './identity.js';
export { type DeadOwnerPolicy, OwnerWord, type OwnerWords } from './owner-word.js';
export { MAX_SPIN_US, type Ready, Spinner } from './spin.js';
export { deadlineOf, WAIT_SLICE_MS, WaitWord, type WaitWordOptions } from './wait-word.js';
