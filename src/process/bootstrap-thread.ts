/** Entry point of a thread child (see popen-thread.ts). */
import { workerData } from 'node:worker_threads';
import { runChild } from './child.js';
import type { ThreadBoot } from './popen-thread.js';

const boot = workerData as ThreadBoot;
await runChild(boot.spec, boot.args);
