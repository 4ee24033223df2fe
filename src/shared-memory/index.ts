/**
 * Python's `multiprocessing.shared_memory`:
 * 1. `shared-memory.ts`   SharedMemory: a named block of POSIX shared memory, `buf` over it without a copy
 * 2. `shareable-list.ts`  ShareableList: a fixed-length list of small values in one block, Python's layout
 */

export { ShareableList, type ShareableValue } from './shareable-list.js';
export { SharedMemory, type SharedMemoryOptions } from './shared-memory.js';
