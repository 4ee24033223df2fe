/**
 * Runs one case in this fresh process and prints `RESULT <json>` (or `ERROR <message>`, exit status 1).
 * Usage: node dist/bench/case.js '<CaseSpec as JSON>'. Started by `runner.ts` once per case, so no case
 * inherits another's JIT state, heap or leftover workers.
 */
import type { CaseResult } from './lib/result.js';
import type { CaseSpec } from './lib/spec.js';

type Runner = (spec: CaseSpec) => Promise<CaseResult>;

/** Each family's runner, loaded on demand (the procq ones need `src/index.ts`, which may not exist yet). */
const FAMILIES: Record<string, () => Promise<Runner>> = {
  'ring-spsc': async () => (await import('./impl/ring-case.js')).ringSpsc,
  'ring-pingpong': async () => (await import('./impl/ring-case.js')).ringPingpong,
  'postmessage-spsc': async () => (await import('./impl/postmessage.js')).postMessageSpsc,
  'postmessage-pingpong': async () => (await import('./impl/postmessage.js')).postMessagePingpong,
  'ipc-spsc': async () => (await import('./impl/ipc.js')).ipcSpsc,
  'ipc-pingpong': async () => (await import('./impl/ipc.js')).ipcPingpong,
  memcpy: async () => (await import('./impl/memcpy.js')).memcpyCase,
  'startup-baseline': async () => (await import('./impl/startup-baselines.js')).startupBaseline,
  procq: async () => (await import('./impl/procq.js')).procqCase,
  'ipc-farm': async () => (await import('./impl/ipc-farm.js')).ipcFarm,
  poolmap: async () => (await import('./impl/poolmap.js')).poolMap,
  redis: async () => (await import('./impl/redis.js')).redisCase,
};

const spec = JSON.parse(process.argv[2]!) as CaseSpec;
try {
  const load = FAMILIES[spec.family];
  if (!load) throw new Error(`unknown case family ${spec.family}`);
  const result = await (await load())(spec);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
} catch (e) {
  const msg = (e as Error)?.stack ?? String(e);
  process.stdout.write(`ERROR ${JSON.stringify(msg)}\n`, () => process.exit(1));
}
