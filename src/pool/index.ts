/**
 * Pool: Python's `multiprocessing.Pool` over `Process` and `Queue`.
 *
 * 1. `pool.ts`: the public `Pool` (documentation, argument checks);
 * 2. `engine.ts`: workers, who holds which task, worker exits and replacements, close/terminate;
 * 3. `jobs.ts`: one call's work cut into chunks and put back together (`map`, `imap`, …);
 * 4. `result.ts`: `AsyncResult`;
 * 5. `functions.ts`: where a worker finds a function (Process's target rules);
 * 6. `protocol.ts`: the messages, and errors made cloneable;
 * 7. `pack.ts`: messages with a big array of primitives, as one serialized byte array;
 * 8. `worker.ts`: the loop each worker runs.
 */
export type { FunctionRef, PoolFunction } from './functions.js';
export type { IMapIterator } from './jobs.js';
export type { MapOptions, PoolOptions } from './options.js';
export { type MapAsyncOptions, type NamedFunction, Pool } from './pool.js';
export { AsyncResult, type ResultCallbacks } from './result.js';
