/**
 * Pipes: Python's `multiprocessing.Pipe` and `Connection`, over shared memory.
 * 1. `pipe.ts`        Pipe(duplex): makes the two ends
 * 2. `connection.ts`  Connection (send / recv / poll / sendBytes / recvBytes / close)
 * 3. `control.ts`     who holds each end, so that an end closes when its last holder is gone
 */
export { BrokenPipeError } from '../errors.js';
export { Connection } from './connection.js';
export { MAX_HOLDERS } from './control.js';
export { Pipe } from './pipe.js';
