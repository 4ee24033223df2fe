// Test peers: the same target (test/fixtures/queue-peers.ts) run in-process, in a worker thread or in another OS
// process (spawned, or a forkserver's), so one test body covers every transport. A group joins its peers at the end of a test, fails the test
// when one failed, and ends (and fails on) any peer still running: no test leaves a child or worker behind.
import assert from 'node:assert/strict';
import { Process } from '../../src/index.js';
import type { Form } from '../fixtures/queue-peers.js';
import * as targets from '../fixtures/queue-peers.js';

export type PeerKind = 'inproc' | 'thread' | 'spawn' | 'forkserver';
export type TargetName = Exclude<keyof typeof targets, 'T' | 'STOP' | 'jsonCodec' | 'itemOf'>;

const MODULE = new URL('../fixtures/queue-peers.js', import.meta.url);

/** Pids of every spawned peer so far: none may leave a shared-memory segment behind once it has exited. */
export const spawnedPids = new Set<number>();

/** How long a group waits for its peers at the end of a test. */
const JOIN_MS = 30_000;

interface Running {
  readonly label: string;
  readonly process?: Process;
  /** In-process peers: settles with the target. */
  readonly promise?: Promise<unknown>;
  error?: unknown;
  settled?: boolean;
}

export class PeerGroup {
  readonly #running: Running[] = [];
  #count = 0;

  constructor(readonly kind: PeerKind) {}

  /**
   * The forms a peer uses: in-process peers must not block the thread, so they are always async; threads and
   * processes alternate, starting with `first` (so a test with two peers covers both forms).
   */
  form(index: number, first: Form = this.kind === 'thread' ? 'sync' : 'async'): Form {
    if (this.kind === 'inproc') return 'async';
    const other: Form = first === 'sync' ? 'async' : 'sync';
    return index % 2 === 0 ? first : other;
  }

  /** Starts `target(form, ...args)` as a peer of this group's kind (or `kind`). */
  start(target: TargetName, args: unknown[], options: { form?: Form; kind?: PeerKind } = {}): void {
    const kind = options.kind ?? this.kind;
    const index = this.#count++;
    const form = kind === 'inproc' ? 'async' : (options.form ?? this.form(index));
    const label = `${target}#${index} (${kind}, ${form})`;
    if (kind === 'inproc') {
      // biome-ignore lint/performance/noDynamicNamespaceImportAccess: the target is chosen by name, as in a child
      const fn = targets[target] as (...a: unknown[]) => Promise<unknown>;
      const r: Running = { label };
      const promise = Promise.resolve()
        .then(() => fn(form, ...args))
        .then(
          () => {
            r.settled = true;
          },
          (err) => {
            r.settled = true;
            r.error = err;
          },
        );
      this.#running.push(Object.assign(r, { promise }));
      return;
    }
    const p = new Process({ target, module: MODULE, args: [form, ...args], startMethod: kind, name: label });
    p.start();
    if (kind !== 'thread' && p.pid !== undefined) spawnedPids.add(p.pid);
    this.#running.push({ label, process: p });
  }

  /** Waits for every peer; fails when one failed or is still running after `ms` (and ends it). */
  async join(ms = JOIN_MS): Promise<void> {
    const deadline = Date.now() + ms;
    const problems: string[] = [];
    for (const r of this.#running) {
      const left = Math.max(0, deadline - Date.now());
      if (r.process) {
        await r.process.join(left);
        if (r.process.isAlive()) {
          r.process.kill();
          await r.process.join();
          problems.push(`${r.label} was still running after ${ms} ms: killed`);
        } else if (r.process.exitCode !== 0) {
          problems.push(`${r.label} exited with ${r.process.exitCode}`);
        }
      } else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([r.promise, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
        clearTimeout(timer);
        if (!r.settled) problems.push(`${r.label} was still running after ${ms} ms`);
        else if (r.error !== undefined)
          problems.push(`${r.label} failed: ${(r.error as Error)?.stack ?? r.error}`);
      }
    }
    this.#running.length = 0;
    assert.deepEqual(problems, [], 'every peer ends normally');
  }

  /** After a failed test body: ends whatever still runs, without judging it. */
  async abandon(): Promise<void> {
    for (const r of this.#running) {
      if (r.process?.isAlive()) {
        r.process.kill();
        await r.process.join();
      }
    }
    this.#running.length = 0;
  }
}

/** Runs `body` with a fresh group; joins its peers after, and ends them when the body failed. */
export async function withPeers(kind: PeerKind, body: (peers: PeerGroup) => Promise<void>): Promise<void> {
  const peers = new PeerGroup(kind);
  try {
    await body(peers);
  } catch (err) {
    await peers.abandon();
    throw err;
  }
  await peers.join();
}
