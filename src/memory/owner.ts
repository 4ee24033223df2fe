// STUB: replaced by the native work (issue 3): kernel thread ids and liveness through the addon.
import { threadId } from 'node:worker_threads';

/** A non-zero id for the calling thread, unique among live threads that share a segment. */
export function ownerId(): number {
  return threadId + 1;
}

/** Whether the owner `id` is still alive; `undefined` when it cannot be told. */
export function ownerAlive(_id: number): boolean | undefined {
  return undefined;
}
