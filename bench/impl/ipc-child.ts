/** The child side of `ipc.ts`. */
import { checkItem, type Kind } from '../lib/payload.js';

process.once('message', (cfg: { mode: 'ack' | 'pingpong'; n: number; kind: Kind; size: number }) => {
  let i = 0;
  process.on('message', (m: any) => {
    if (cfg.mode === 'pingpong') {
      process.send!(m);
      return;
    }
    // 'json' turns a Buffer into { type: 'Buffer', data }; 'advanced' keeps it a Uint8Array.
    checkItem(cfg.kind, cfg.size, i, m);
    if (++i === cfg.n) process.send!({ rssKb: process.resourceUsage().maxRSS });
  });
  process.send!('ready');
});
