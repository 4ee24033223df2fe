// A pipeline to look at with `procq ls` and `procq top` (docs/INSPECT.md): a producer feeds `jobs` to two worker
// processes, which write each result under the `db` lock and send it back on `results`. After a few seconds one
// worker is killed while it holds `db` (a crash); `db` is not robust (Python's behaviour), so the other worker
// waits for it for ever, `jobs` fills up, and the producer blocks. `procq ls` shows which lock, held by whom.
// Run: node dist/examples/04-inspect.js [crash after ms, default 5000] [stay up ms, default 60000]
import { setTimeout as sleep } from 'node:timers/promises';
import { Event, isMainProcess, Lock, Process, Queue } from '../src/index.js';

export async function worker(
  jobs: Queue<number>,
  results: Queue<number>,
  db: Lock,
  crash: Event,
  crashing: boolean,
): Promise<void> {
  for (;;) {
    const job = await jobs.get();
    await db.acquire();
    if (crashing && crash.isSet()) process.kill(process.pid, 'SIGKILL'); // dies holding `db`
    await sleep(2); // "writes" the result
    db.release();
    await results.put(job * 2);
  }
}

if (isMainProcess()) {
  const crashAfter = Number(process.argv[2] ?? 5000);
  const stayUp = Number(process.argv[3] ?? 60_000);
  const jobs = new Queue<number>(100, { label: 'jobs' });
  const results = new Queue<number>(0, { label: 'results' });
  const db = new Lock({ label: 'db', robust: false });
  const crash = new Event({ label: 'crash' });
  const workers = [true, false].map(
    (crashing) => new Process({ target: worker, args: [jobs, results, db, crash, crashing], daemon: true }),
  );
  for (const w of workers) w.start();
  console.log(
    `pid ${process.pid}: look with \`procq ls\` or \`procq top\` (a crash comes in ${crashAfter} ms)`,
  );
  setTimeout(() => crash.set(), crashAfter);
  const until = Date.now() + stayUp;
  void (async () => {
    for (let i = 0; Date.now() < until; i++) {
      if (
        !(await jobs.put(i, { timeout: until - Date.now() }).then(
          () => true,
          () => false,
        ))
      )
        break;
      await sleep(1);
    }
  })();
  let done = 0;
  while (Date.now() < until) {
    if ((await results.get({ timeout: Math.max(0, until - Date.now()) }).catch(() => null)) !== null) done++;
  }
  console.log(`${done} results; exiting`);
  for (const w of workers) w.kill();
  process.exit(0);
}
