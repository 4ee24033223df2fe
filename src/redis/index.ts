/**
 * The Redis transport: the `Queue` interface over Redis lists, for processes on many machines.
 *
 * | file             | job                                                                              |
 * |------------------|----------------------------------------------------------------------------------|
 * | `queue.ts`       | `RedisQueue`, `RedisJoinableQueue`, `connectQueue`: the public face, documented   |
 * | `options.ts`     | `RedisQueueOptions` and their validation                                         |
 * | `scripts.ts`     | the keys of a queue, their invariants, and the Lua scripts that change them      |
 * | `ops.ts`         | the algorithms (put, get, join, …) as I/O-free generators of Redis requests      |
 * | `driver.ts`      | runs them async: command connection, pool of blocking connections, abort         |
 * | `sync-bridge.ts` | runs them sync: a helper thread and `Atomics.wait`                               |
 * | `items.ts`       | item <-> list element (procq's codec, fast paths for strings, numbers, bytes)    |
 */
export { QueueGoneError, RedisConnectionError } from './ops.js';
export type { RedisQueueOptions } from './options.js';
export { connectQueue, RedisJoinableQueue, RedisQueue } from './queue.js';
