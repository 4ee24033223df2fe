/**
 * `Lock`: Python's `multiprocessing.Lock`, a non-recursive lock shared by threads and processes.
 *
 * ```ts
 * const lock = new Lock();
 * if (await lock.acquire({ timeout: 1000 })) {   // milliseconds; false when the timeout passes
 *   try { … } finally { lock.release(); }
 * }
 * lock.acquireSync(); using _ = lock;             // released at the end of the scope
 * ```
 *
 * As in Python, a `Lock` is not owned for release: once acquired, any thread or process may release it (it is a
 * binary semaphore); a second `acquire` by the holder waits like anyone else's. Unlike Python, the holder is
 * recorded, and when it dies holding the lock (a killed process, an ended worker) a waiter takes the lock over
 * instead of waiting forever, with a `PROCQ_LOCK_RECOVERED` warning (pass `robust: false` for Python's exact
 * behaviour, e.g. when a thread acquires and then hands the release over to another one and ends).
 *
 * Layout (one segment, 5 words from `base`):
 * ```
 *  word     written by                      invariant
 *  +0 KIND  creator                         KIND_LOCK, never changes
 *  +1 OWNER acquirer / releaser / recoverer 0 free, else the holder's tid + start TAG (wait/owner-word.ts)
 *  +2 WAIT  sleepers on OWNER               atomic add/sub
 *  +3 FLAGS creator                         bit 0: robust (take over from a dead holder); never changes
 *  +4 START acquirer / releaser / recoverer the holder's start time while OWNER is set (wait/owner-word.ts)
 * ```
 */
import { shareable } from '../codec/handles.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import { labelOf } from '../inspect/label.js';
import type { LockStats } from '../inspect/read.js';
import { registerCreated } from '../inspect/registry.js';
import { lockStats } from '../inspect/stats.js';
import { deadlineOf, type OwnerWord } from '../wait/index.js';
import {
  type AcquireOptions,
  allocate,
  attachPlace,
  checkAcquireOptions,
  describe,
  KIND_LOCK,
  type Place,
  type PlaceState,
  publishKind,
  rejecting,
  type SyncAcquireOptions,
  stateOf,
} from './core.js';
import { syncOwnerWord } from './owner-word.js';

const OWNER = 1;
const WAIT = 2;
const FLAGS = 3;
const ROBUST = 1;
const START = 4;
const WORDS = 5;

export interface LockOptions {
  /** Take the lock over when its holder dies holding it (with a warning). @default true */
  robust?: boolean;
  /** A name for people: shown by `procq ls`, in `stats()` and in errors about this lock. */
  label?: string;
}

/**
 * What `Condition` needs from its lock (implemented by `Lock` and `RLock`).
 */
export interface ConditionLock {
  /** @internal Whether the calling thread holds the lock. */
  _isOwned(): boolean;
  /** @internal Releases the lock completely; returns what `_acquireRestore` needs to take it back as it was. */
  _releaseSave(): number;
  /** @internal */
  _acquireRestore(saved: number): void;
  /** @internal */
  _acquireRestoreAsync(saved: number): Promise<void>;
  acquire(options?: AcquireOptions): Promise<boolean>;
  acquireSync(options?: SyncAcquireOptions): boolean;
  release(): void;
}

const kAttach = Symbol('procq.attach');

export class Lock implements ConditionLock, Disposable, AsyncDisposable {
  readonly #place: Place;
  readonly #word: OwnerWord;

  /** @throws TypeError when `options` is not an object of the documented shape. */
  constructor(options?: LockOptions);
  /** @internal */
  constructor(attach: typeof kAttach, place: Place);
  constructor(options?: LockOptions | typeof kAttach, attached?: Place) {
    if (options === kAttach) {
      this.#place = attached!;
    } else {
      const robust = checkLockOptions(options);
      const seg = allocate(WORDS);
      this.#place = { seg, base: 0, label: labelOf(options) };
      seg.i32[FLAGS] = robust ? ROBUST : 0;
      publishKind(this.#place, KIND_LOCK);
      registerCreated('Lock', this.#place);
    }
    const { seg, base } = this.#place;
    const robust = (seg.i32[base + FLAGS] & ROBUST) !== 0;
    this.#word = syncOwnerWord(
      seg,
      { owner: base + OWNER, start: base + START, waiters: base + WAIT },
      'Lock',
      () => robust,
    );
  }

  /**
   * Takes the lock, waiting while another holds it (unless `block: false`). Resolves `true` when taken, `false`
   * when `timeout` passed first (or at once with `block: false`); rejects with `AbortError` or an argument error.
   *
   * Abort safety: when the signal aborts, the lock has not been taken.
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return rejecting(() => {
      const { timeoutMs, signal } = checkAcquireOptions(options, true);
      return this.#word.acquire(deadlineOf(timeoutMs), signal);
    });
  }

  /** Like `acquire`, blocking the calling thread; returns `true` when taken. Throws for bad arguments. */
  acquireSync(options?: SyncAcquireOptions): boolean {
    const { timeoutMs } = checkAcquireOptions(options, false);
    return this.#word.acquireSync(deadlineOf(timeoutMs));
  }

  /** Frees the lock (any thread or process may, as in Python). Throws `RangeError` when it is not held. */
  release(): void {
    if (this.#word.release() === 0) {
      const which = this.#place.label === undefined ? 'a Lock' : `Lock '${this.#place.label}'`;
      throw new RangeError(`release() of ${which} that is not held (released too many times)`);
    }
  }

  /** Whether someone holds the lock now (a snapshot). */
  locked(): boolean {
    return this.#word.owner() !== 0;
  }

  /** A snapshot for metrics and `procq ls`: who holds the lock (pid, thread, alive), how many wait. */
  stats(): LockStats {
    return lockStats(this.#place, 'Lock');
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** `using`: releases the lock at the end of the scope (take it first). */
  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  /** @internal */
  _isOwned(): boolean {
    return this.#word.isMine();
  }

  /** @internal */
  _releaseSave(): number {
    this.release();
    return 1;
  }

  /** @internal */
  _acquireRestore(_saved: number): void {
    this.#word.acquireSync(Number.POSITIVE_INFINITY);
  }

  /** @internal */
  async _acquireRestoreAsync(_saved: number): Promise<void> {
    await this.#word.acquire(Number.POSITIVE_INFINITY, undefined);
  }

  /** @internal the description another thread or process attaches from. */
  static {
    shareable(
      Lock,
      'Lock',
      (state: PlaceState) => new Lock(kAttach, attachPlace(state, KIND_LOCK, 'Lock')),
      (lock) => stateOf(lock.#place),
    );
  }

  get [Symbol.toStringTag](): string {
    return 'Lock';
  }
}

function checkLockOptions(options: unknown): boolean {
  if (options === undefined) return true;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const { robust } = options as { robust?: unknown };
  if (robust !== undefined && typeof robust !== 'boolean') {
    throw new TypeError(`Expected \`robust\` to be a boolean, got ${describe(robust)}`);
  }
  return robust !== false;
}
