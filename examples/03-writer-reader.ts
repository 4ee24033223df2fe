// Seed program 3: a writer process and a reader process share one queue, created by the parent.
// Run: node dist/examples/03-writer-reader.js
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainProcess, Process, Queue } from '../src/index.js';

export function writer(q: Queue<string>): void {
  if (q.full()) return;
  for (let i = 0; i < 5; i++) {
    const message = `message ${i}`;
    q.putSync(message);
    console.log(`wrote: ${message}`);
  }
}

export async function reader(q: Queue<string>): Promise<void> {
  await sleep(1000);
  while (!q.empty()) {
    console.log(`read: ${await q.get({ timeout: 2000 })}`);
  }
}

if (isMainProcess()) {
  console.log('main: start');
  const q = new Queue<string>();
  const w = new Process({ target: writer, args: [q] });
  const r = new Process({ target: reader, args: [q] });
  w.start();
  r.start();
  await w.join();
  await r.join();
  console.log('main: end');
}
