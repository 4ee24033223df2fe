/** The worker side of `postmessage.ts`: checks every item; acknowledges, returns credit, or echoes. */
import { parentPort, workerData } from 'node:worker_threads';
import { checkItem, type Kind } from '../lib/payload.js';

const port = parentPort!;
const { mode, n, kind, size, window } = workerData as {
  mode: 'ack' | 'credit' | 'pingpong';
  n: number;
  kind: Kind;
  size: number;
  window: number;
};
const every = Math.max(1, Math.ceil(window / 2));
let i = 0;

port.on('message', (m: unknown) => {
  if (mode === 'pingpong') {
    port.postMessage(m);
    if (++i === n) port.close();
    return;
  }
  checkItem(kind, size, i, m);
  i++;
  if (i === n || (mode === 'credit' && i % every === 0)) port.postMessage(i);
});
port.postMessage('ready');
