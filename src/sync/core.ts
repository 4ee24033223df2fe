/**
 * What every synchronization primitive shares: where its words live, how it travels, how its options are read.
 *
 * Each primitive owns a few 32-bit words at a `base` index inside a segment. Most own a whole (small) segment;
 * a `Value` or a `Condition` keeps its default `RLock` in its own segment, next to its words, so one object is one
 * mapping. The first word of every primitive is its KIND (a magic number per class, written by the creator, never
 * changed): attaching to the wrong memory fails at once instead of corrupting it.
 *
 * A primitive crosses threads and processes as a handle (`codec/handles.ts`): `{ segment, base, ... }`, from which
 * the other side attaches the same words.
 */
import { NotOwnerError } from '../errors.js';
import { attachSegment, createSegment, type Segment, type SegmentHandle } from '../memory/index.js';

// The option checks every layer shares live in ../options.ts; re-exported under the names sync/ uses.
export {
  checkWaitArg,
  checkWaitOptions as checkAcquireOptions,
  describe,
  type WaitSpec,
} from '../options.js';

/** KIND words: 'pq' in the high half, the class in the low half. */
export const KIND_LOCK = 0x70710001;
export const KIND_RLOCK = 0x70710002;
export const KIND_SEMAPHORE = 0x70710003;
export const KIND_EVENT = 0x70710004;
export const KIND_CONDITION = 0x70710005;
export const KIND_BARRIER = 0x70710006;
export const KIND_VALUE = 0x70710007;
export const KIND_ARRAY = 0x70710008;

/** A primitive's place in shared memory. */
export interface Place {
  readonly seg: Segment;
  readonly base: number;
  /** The `label` option, travelling with the handle. */
  readonly label?: string;
}

/** What crosses to another thread or process: the segment and where the words start. */
export interface PlaceState {
  readonly segment: SegmentHandle;
  readonly base: number;
  readonly label?: string;
}

/** A new zero-filled segment with room for `words` 32-bit words (at least 64 bytes; shm rounds up to a page). */
export function allocate(words: number): Segment {
  return createSegment(Math.max(64, Math.ceil((words * 4) / 64) * 64));
}

/** Writes the KIND word last of the creator's initialisation (after the other words are set). */
export function publishKind(place: Place, kind: number): void {
  Atomics.store(place.seg.i32, place.base, kind);
}

/** Attaches the memory a handle describes, checking that it holds a primitive of `kind`. */
export function attachPlace(state: PlaceState, kind: number, what: string): Place {
  const seg = attachSegment(state.segment);
  checkKind(seg, state.base, kind, what);
  return state.label === undefined
    ? { seg, base: state.base }
    : { seg, base: state.base, label: state.label };
}

export function checkKind(seg: Segment, base: number, kind: number, what: string): void {
  const found = Atomics.load(seg.i32, base);
  if (found !== kind) {
    throw new TypeError(
      `procq: the shared memory of this ${what} holds something else (kind 0x${(found >>> 0).toString(16)})`,
    );
  }
}

export function stateOf(place: Place): PlaceState {
  const state = { segment: place.seg.handle(), base: place.base };
  return place.label === undefined ? state : { ...state, label: place.label };
}

export { rejecting } from '../errors.js';

/** Options of an async `acquire`. Times are milliseconds. */
export interface AcquireOptions {
  /** Wait while the lock is held. With `false`, `timeout` is ignored (Python's rule). @default true */
  block?: boolean;
  /**
   * Milliseconds to wait before giving up (the call then returns `false`); `undefined` or `Infinity`: forever;
   * a negative timeout is 0 (Python's rule).
   */
  timeout?: number;
  /** Aborting rejects the call with an `AbortError` whose `cause` is `signal.reason`; nothing is then held. */
  signal?: AbortSignal;
}

export type SyncAcquireOptions = Omit<AcquireOptions, 'signal'>;

/** Options of an async wait that has no `block` (Event, Condition, Barrier, poll). */
export interface WaitOptions {
  /** Milliseconds to wait; `undefined` or `Infinity`: forever; a negative timeout is 0 (Python's rule). */
  timeout?: number;
  /** Aborting rejects the call with an `AbortError` whose `cause` is `signal.reason`. */
  signal?: AbortSignal;
}

export type SyncWaitOptions = Omit<WaitOptions, 'signal'>;

/** A lock-state misuse (Python's `RuntimeError`/`AssertionError`): releasing or waiting without holding. */
export function notOwnerError(message: string): NotOwnerError {
  return new NotOwnerError(message);
}
