/**
 * The matrix: every workload × every implementation that applies, with message counts chosen so a full run
 * takes a few minutes on 2 cores and `--quick` under a minute. Workloads are defined in `README.md`.
 */
import { addRedisCases } from './impl/redis-cases.js';
import { JOB_SIZE, OBJ_SIZE } from './lib/payload.js';
import type { CaseSpec } from './lib/spec.js';

export interface Availability {
  python: boolean;
  /** The native addon is built: shm segments and `startMethod: 'spawn'`. */
  native: boolean;
  /** `src/index.ts` exports `Queue` and `Process`. */
  procq: boolean;
  /** The `piscina` package is installed (a dev dependency: `npm ci` brings it). */
  piscina?: boolean;
  /** `redis-server` is on PATH: the Redis cases (`impl/redis-cases.ts`). */
  redis?: boolean;
}

export interface Matrix {
  cases: CaseSpec[];
  /** Why whole groups of cases are absent. */
  notes: string[];
}

const BYTE_SIZES: Array<[size: number, msgs: number]> = [
  [1024, 200_000],
  [65536, 20_000],
  [1048576, 1_000],
];

export function buildCases(quick: boolean, avail: Availability): Matrix {
  const cases: CaseSpec[] = [];
  const notes: string[] = [];
  const timeoutMs = quick ? 30_000 : 180_000;
  /** Full-run count, or a hundredth of it (at least `min`) with --quick. */
  const n = (full: number, min = 200) => (quick ? Math.max(min, Math.floor(full / 100)) : Math.max(1, full));
  const base: CaseSpec = {
    bench: 'spsc',
    impl: '',
    family: '',
    kind: 'str',
    size: 12,
    msgs: 0,
    producers: 1,
    consumers: 1,
    maxsize: 0,
    batch: 1,
    where: 'thread',
    form: 'sync',
    spin: 1000,
    every: 1,
    timeoutMs,
  };
  const add = (c: Partial<CaseSpec> & Pick<CaseSpec, 'impl' | 'family' | 'msgs'>) =>
    cases.push({ ...base, ...c });

  const procqForms = (where: 'thread' | 'process', forms: Array<CaseSpec['form']>) =>
    forms.map((form) => ({ where, form, impl: `procq-${where}-${form}` }));
  const procqImpls = (forms: Array<CaseSpec['form']>) => {
    if (!avail.procq) return [];
    return [...procqForms('thread', forms), ...(avail.native ? procqForms('process', forms) : [])];
  };
  const py = (impls: string[]) => (avail.python ? impls : []);
  const all4 = ['async', 'sync', 'batch', 'batch-sync'] as Array<CaseSpec['form']>;
  const all3 = ['async', 'sync', 'batch'] as Array<CaseSpec['form']>;
  const batchOf = (form: CaseSpec['form'], size: number) => (form.startsWith('batch') ? size : 1);

  // spsc, 12-byte strings
  for (const every of [1, 64]) {
    add({ impl: `sab-ring-pub${every}`, family: 'ring-spsc', every, msgs: n(2_000_000) });
    if (avail.native)
      add({ impl: `shm-ring-pub${every}`, family: 'ring-spsc', where: 'process', every, msgs: n(2_000_000) });
  }
  add({ impl: 'postmessage-ack', family: 'postmessage-spsc', msgs: n(500_000) });
  add({ impl: 'postmessage-credit', family: 'postmessage-spsc', maxsize: 1000, msgs: n(300_000) });
  add({ impl: 'ipc-json', family: 'ipc-spsc', where: 'process', msgs: n(200_000) });
  add({ impl: 'ipc-advanced', family: 'ipc-spsc', where: 'process', msgs: n(200_000) });
  for (const impl of py(['py-queue', 'py-simplequeue', 'py-pipe']))
    add({ impl, family: 'python', where: 'process', msgs: n(200_000) });
  for (const p of procqImpls(all4))
    add({
      ...p,
      family: 'procq',
      batch: batchOf(p.form, 256),
      msgs: n(p.form === 'async' ? 500_000 : 1_000_000),
    });

  // spsc, byte arrays
  for (const [size, full] of BYTE_SIZES) {
    const b = { kind: 'bytes' as const, size };
    add({ ...b, impl: 'memcpy', family: 'memcpy', msgs: n(full * 4, 20) });
    add({ ...b, impl: 'sab-ring-pub1', family: 'ring-spsc', msgs: n(full, 20) });
    if (avail.native)
      add({ ...b, impl: 'shm-ring-pub1', family: 'ring-spsc', where: 'process', msgs: n(full, 20) });
    add({ ...b, impl: 'postmessage-ack', family: 'postmessage-spsc', msgs: n(full / 2, 20) });
    add({ ...b, impl: 'ipc-advanced', family: 'ipc-spsc', where: 'process', msgs: n(full / 4, 20) });
    for (const impl of py(['py-queue', 'py-simplequeue', 'py-pipe']))
      add({ ...b, impl, family: 'python', where: 'process', msgs: n(full / 4, 20) });
    for (const p of procqImpls(size > 1024 ? ['async', 'sync'] : quick ? all3 : all4))
      add({ ...b, ...p, family: 'procq', batch: batchOf(p.form, 64), msgs: n(full, 20) });
    // getIntoSync into one reused buffer: the consumer allocates nothing per item
    if (size === 1048576 && avail.procq && avail.native)
      add({
        ...b,
        where: 'process',
        form: 'into',
        impl: 'procq-process-into',
        family: 'procq',
        msgs: n(full, 20),
      });
  }

  // spsc, small objects
  const o = { bench: 'spsc-obj', kind: 'obj' as const, size: OBJ_SIZE };
  add({ ...o, impl: 'sab-ring-v8', family: 'ring-spsc', msgs: n(500_000) });
  if (avail.native)
    add({ ...o, impl: 'shm-ring-v8', family: 'ring-spsc', where: 'process', msgs: n(500_000) });
  add({ ...o, impl: 'postmessage-ack', family: 'postmessage-spsc', msgs: n(300_000) });
  add({ ...o, impl: 'ipc-json', family: 'ipc-spsc', where: 'process', msgs: n(200_000) });
  add({ ...o, impl: 'ipc-advanced', family: 'ipc-spsc', where: 'process', msgs: n(200_000) });
  for (const impl of py(['py-queue', 'py-simplequeue', 'py-pipe']))
    add({ ...o, impl, family: 'python', where: 'process', msgs: n(200_000) });
  for (const p of procqImpls(quick ? all3 : all4))
    add({ ...o, ...p, family: 'procq', batch: batchOf(p.form, 256), msgs: n(300_000) });

  // bounded
  for (const [maxsize, full] of [
    [3, 200_000],
    [1000, 500_000],
  ] as const) {
    const bo = { bench: `bounded-${maxsize}`, maxsize };
    add({ ...bo, impl: 'postmessage-credit', family: 'postmessage-spsc', msgs: n(full / 4) });
    for (const impl of py(['py-queue']))
      add({ ...bo, impl, family: 'python', where: 'process', msgs: n(full / 2) });
    for (const p of procqImpls(['async', 'sync'])) add({ ...bo, ...p, family: 'procq', msgs: n(full) });
  }

  // mpsc / mpmc: `msgs` is per producer; every item checked exactly once
  for (const [P, C] of [
    [4, 1],
    [2, 2],
    [4, 4],
  ] as const) {
    const mo = { bench: P > 1 && C === 1 ? `mpsc-${P}x${C}` : `mpmc-${P}x${C}`, producers: P, consumers: C };
    for (const impl of py(['py-queue']))
      add({ ...mo, impl, family: 'python', where: 'process', msgs: n(200_000 / P) });
    for (const p of procqImpls(['async', 'sync', 'batch']))
      add({ ...mo, ...p, family: 'procq', batch: batchOf(p.form, 64), msgs: n(400_000 / P) });
  }

  // jobs: a job farm of P producer and C consumer processes over Queue(1000), timed from the first start()
  for (const [P, C] of [[2, 2]] as const) {
    const jo = {
      bench: `jobs-${P}x${C}`,
      kind: 'job' as const,
      size: JOB_SIZE,
      producers: P,
      consumers: C,
      maxsize: 1000,
      where: 'process' as const,
      msgs: n(100_000 / P, 500),
    };
    for (const impl of py(['py-queue', 'py-queue-spawn'])) add({ ...jo, impl, family: 'python' });
    add({ ...jo, impl: 'ipc-farm', family: 'ipc-farm' });
    if (avail.procq && avail.native) {
      for (const p of procqForms('process', ['async', 'sync', 'batch']))
        add({ ...jo, ...p, family: 'procq', batch: batchOf(p.form, 64) });
      // The same farm over warm interpreters (the default start method on Linux, after warmForkserver(P + C)).
      for (const form of ['async', 'sync', 'batch'] as const)
        add({ ...jo, impl: `procq-forkserver-${form}`, form, family: 'procq', batch: batchOf(form, 64) });
    }
  }

  // poolmap: Pool.map of small tasks over 2 started workers
  const pm = { bench: 'poolmap', size: 0, msgs: n(100_000, 1000) };
  for (const impl of py(['py-pool'])) add({ ...pm, impl, family: 'python', where: 'process' });
  if (avail.piscina) add({ ...pm, impl: 'piscina', family: 'poolmap' });
  if (avail.procq) {
    add({ ...pm, impl: 'procq-thread-map', family: 'poolmap' });
    if (avail.native) add({ ...pm, impl: 'procq-process-map', family: 'poolmap', where: 'process' });
  }

  // pingpong: round trips of a 12-byte string
  const pp = { bench: 'pingpong' };
  add({ ...pp, impl: 'sab-ring-spin', family: 'ring-pingpong', spin: 20_000, msgs: n(20_000) });
  add({ ...pp, impl: 'sab-ring-futex', family: 'ring-pingpong', spin: 0, msgs: n(20_000) });
  if (avail.native) {
    add({
      ...pp,
      impl: 'shm-ring-spin',
      family: 'ring-pingpong',
      where: 'process',
      spin: 20_000,
      msgs: n(20_000),
    });
    add({
      ...pp,
      impl: 'shm-ring-futex',
      family: 'ring-pingpong',
      where: 'process',
      spin: 0,
      msgs: n(20_000),
    });
  }
  add({ ...pp, impl: 'postmessage', family: 'postmessage-pingpong', msgs: n(20_000) });
  add({ ...pp, impl: 'ipc-json', family: 'ipc-pingpong', where: 'process', msgs: n(20_000) });
  add({ ...pp, impl: 'ipc-advanced', family: 'ipc-pingpong', where: 'process', msgs: n(20_000) });
  for (const impl of py(['py-queue', 'py-simplequeue', 'py-pipe']))
    add({ ...pp, impl, family: 'python', where: 'process', msgs: n(10_000) });
  for (const p of procqImpls(['async', 'sync'])) add({ ...pp, ...p, family: 'procq', msgs: n(20_000) });

  // startup: start, first item back
  const st = { bench: 'startup', size: 0, kind: 'str' as const };
  const starts = quick ? 1 : 10;
  add({ ...st, impl: 'worker-thread', family: 'startup-baseline', msgs: starts });
  add({ ...st, impl: 'child-fork', family: 'startup-baseline', where: 'process', msgs: starts });
  for (const impl of py(['py-spawn', 'py-fork', 'py-forkserver']))
    add({ ...st, impl, family: 'python', where: 'process', msgs: starts });
  if (avail.procq) {
    add({ ...st, impl: 'procq-thread', family: 'procq', msgs: starts });
    if (avail.native) {
      add({ ...st, impl: 'procq-spawn', family: 'procq', where: 'process', msgs: starts });
      add({ ...st, impl: 'procq-forkserver', family: 'procq', where: 'process', msgs: starts });
    }
  }

  if (!avail.piscina)
    notes.push('piscina not installed (npm ci installs it): the poolmap piscina case is skipped');
  if (avail.redis) addRedisCases(add, n);
  else
    notes.push('redis-server not found: the Redis cases (procq over Redis, BullMQ, LPUSH/BRPOP) are skipped');
  if (!avail.python) notes.push('python3 not found: the CPython baselines (py-*) are skipped');
  if (!avail.native)
    notes.push(
      'native addon not built: cases across processes over shared memory (shm-ring-*, procq-process-*) are skipped',
    );
  if (!avail.procq)
    notes.push('procq not built yet (src/index.ts exports no Queue/Process): procq-* cases are skipped');
  return { cases, notes };
}
