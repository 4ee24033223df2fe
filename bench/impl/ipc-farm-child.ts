/** The children of `ipc-farm.ts`: a producer sends its jobs to the parent; a consumer checks the jobs it is dealt. */
import { checkItem, makeJob, type PrioJob, Tally } from '../lib/payload.js';

type Cfg =
  | { role: 'producer'; first: number; n: number }
  | { role: 'consumer'; producers: number; per: number };

process.once('message', (cfg: Cfg) => {
  if (cfg.role === 'producer') {
    for (let i = cfg.first; i < cfg.first + cfg.n; i++) process.send!(makeJob(i));
    process.send!('pdone', undefined, undefined, () => process.disconnect());
    return;
  }
  const tally = new Tally(cfg.producers, cfg.per);
  process.on('message', (m: PrioJob | 'end') => {
    try {
      if (m === 'end') {
        process.send!({ seen: tally.seen, rssKb: process.resourceUsage().maxRSS }, undefined, undefined, () =>
          process.disconnect(),
        );
        return;
      }
      checkItem('job', 0, m.id, m);
      tally.add(m.id);
    } catch (e) {
      process.send!({ error: (e as Error).stack }, undefined, undefined, () => process.disconnect());
    }
  });
});
