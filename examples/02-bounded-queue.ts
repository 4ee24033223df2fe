// Seed program 2: the bounded queue API on its own. Times are milliseconds (Python uses seconds).
// Run: node dist/examples/02-bounded-queue.js
import { Full, Queue } from '../src/index.js';

const q = new Queue<string>(3);
q.putNowait('消息 1 (message 1)');
q.putNowait('消息 2 (message 2)');
console.log(`full after 2 puts: ${q.full()}`); // false
q.putNowait('消息 3 (message 3)');
console.log(`full after 3 puts: ${q.full()}`); // true

try {
  await q.put('消息 4 (message 4)', { block: true, timeout: 2000 }); // waits 2 s, then Full
} catch (err) {
  if (!(err instanceof Full)) throw err;
  console.log(`put with timeout: the queue is full, qsize() = ${q.qsize()}`);
}

try {
  q.putNowait('消息 4 (message 4)'); // Full at once
} catch (err) {
  if (!(err instanceof Full)) throw err;
  console.log(`putNowait: the queue is full, qsize() = ${q.qsize()}`);
}

if (!q.empty()) {
  const n = q.qsize();
  for (let i = 0; i < n; i++) console.log(`getNowait: ${q.getNowait()}`);
}

if (!q.full()) {
  q.putNowait('消息 4 (message 4)');
  console.log(`putNowait after draining: ok, qsize() = ${q.qsize()}`);
}
