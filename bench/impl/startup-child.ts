/** Sends one message to whoever started it (a worker's parent port, or the fork IPC channel), then ends. */
import { parentPort } from 'node:worker_threads';

if (parentPort) parentPort.postMessage('first');
else process.send!('first', undefined, undefined, () => process.disconnect());
