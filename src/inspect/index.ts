/**
 * Looking inside procq objects without touching them: `stats()`, `procq ls`, `procq top` (docs/INSPECT.md).
 *
 * | file          | job                                                                                   |
 * |---------------|---------------------------------------------------------------------------------------|
 * | `label.ts`    | the `label` option: validation, and how error messages name a labelled object          |
 * | `registry.ts` | each process's list of the objects it created or attached, in `/dev/shm`; reading them |
 * | `read.ts`     | the `stats()` types, decoded from an object's words (live memory or a file)            |
 * | `stats.ts`    | `stats()` over live memory                                                             |
 * | `proc.ts`     | thread and process liveness from `/proc` (alive, stopped, owning process)              |
 * | `scan.ts`     | `procq ls`: every registered object, its holders, and the stall marks                  |
 * | `redis.ts`    | `procq ls --redis`: the procq queues in a Redis                                        |
 * | `format.ts`   | the text tables of `ls` and `top`                                                      |
 */
export type {
  BarrierStats,
  ConditionStats,
  DataStats,
  EventStats,
  LockStats,
  OwnerInfo,
  PipeStats,
  QueueStats,
  SemaphoreStats,
} from './read.js';
