/**
 * The memory of a `Value` or a `SharedArray`: a few words that describe the data, an optional RLock, the data.
 *
 * ```
 *  word          written by   invariant
 *  +0 KIND       creator      KIND_VALUE or KIND_ARRAY; never changes (stored last at creation)
 *  +1 TYPECODE   creator      the typecode's char code; never changes
 *  +2 LENGTH     creator      element count; never changes
 *  +3 LOCKMODE   creator      0 none (`lock: false`), 1 the RLock at +4, 2 a lock given by the creator (its handle
 *                             travels with the object's); never changes
 *  +4..+8        the RLock    rlock.ts, when LOCKMODE = 1 (zero otherwise)
 *  +9..+11       reserved (0)
 *  +12 ...       elements     LENGTH elements of the typecode's size, from byte 48 (8-aligned); each read or
 *                             write is atomic (typecodes.ts), `'d'` under the lock when there is one
 * ```
 */
import { type HandleDescriptor, kHandle, reviveHandle } from '../codec/handles.js';
import { invariant } from '../errors.js';
import {
  allocate,
  attachPlace,
  describe,
  type Place,
  type PlaceState,
  publishKind,
  stateOf,
} from './core.js';
import { Lock } from './lock.js';
import { RLOCK_WORDS, RLock } from './rlock.js';
import { Elements, elementSize, type TypeCode } from './typecodes.js';

const TYPECODE = 1;
const LENGTH = 2;
const LOCKMODE = 3;
const RLOCK_AT = 4;
const DATA_BYTES = 48;

const MODE_NONE = 0;
const MODE_OWN = 1;
const MODE_GIVEN = 2;
invariant(RLOCK_AT + RLOCK_WORDS <= DATA_BYTES / 4, 'the RLock of a Value overlaps its data');

/** The largest element count (the data must fit a segment well below 2 GiB). */
export const MAX_LENGTH = 2 ** 28;

/** `lock` option of `Value` and `SharedArray`. */
export type LockOption = boolean | Lock | RLock;

export interface DataState extends PlaceState {
  readonly lock?: HandleDescriptor;
}

export class SharedData {
  readonly place: Place;
  readonly elements: Elements;
  readonly lock: Lock | RLock | undefined;

  constructor(place: Place, lock: Lock | RLock | undefined) {
    this.place = place;
    const i32 = place.seg.i32;
    const typecode = String.fromCharCode(i32[place.base + TYPECODE]!) as TypeCode;
    const length = i32[place.base + LENGTH]!;
    const bytes = place.seg.bytes;
    this.elements = new Elements(
      bytes.buffer,
      bytes.byteOffset + place.base * 4 + DATA_BYTES,
      typecode,
      length,
    );
    this.lock = lock;
  }

  static create(kind: number, typecode: TypeCode, length: number, lockOption: LockOption): SharedData {
    const seg = allocate(DATA_BYTES / 4 + Math.ceil((length * elementSize(typecode)) / 4));
    const place = { seg, base: 0 };
    const i32 = seg.i32;
    i32[TYPECODE] = typecode.charCodeAt(0);
    i32[LENGTH] = length;
    let lock: Lock | RLock | undefined;
    i32[LOCKMODE] = MODE_NONE;
    if (lockOption === true) {
      i32[LOCKMODE] = MODE_OWN;
      lock = RLock._createAt({ seg, base: RLOCK_AT });
    } else if (lockOption instanceof Lock || lockOption instanceof RLock) {
      i32[LOCKMODE] = MODE_GIVEN;
      lock = lockOption;
    }
    publishKind(place, kind);
    return new SharedData(place, lock);
  }

  static attach(state: DataState, kind: number, what: string): SharedData {
    const place = attachPlace(state, kind, what);
    const mode = place.seg.i32[place.base + LOCKMODE];
    let lock: Lock | RLock | undefined;
    if (mode === MODE_OWN) lock = RLock._attach({ segment: state.segment, base: place.base + RLOCK_AT });
    else if (mode === MODE_GIVEN && state.lock !== undefined) lock = reviveHandle(state.lock) as Lock | RLock;
    return new SharedData(place, lock);
  }

  state(): DataState {
    const s = stateOf(this.place);
    const mode = this.place.seg.i32[this.place.base + LOCKMODE];
    return mode === MODE_GIVEN && this.lock !== undefined ? { ...s, lock: this.lock[kHandle]() } : s;
  }

  /** Runs `fn` atomically for `'d'` (under the lock, unless this thread holds it already), directly otherwise. */
  atomically<R>(fn: () => R): R {
    const lock = this.lock;
    if (!this.elements.needsLock || lock === undefined || lock._isOwned()) return fn();
    lock.acquireSync();
    try {
      return fn();
    } finally {
      lock.release();
    }
  }
}

export function checkLockOption(lock: unknown): LockOption {
  if (lock === undefined) return true;
  if (typeof lock === 'boolean' || lock instanceof Lock || lock instanceof RLock) return lock;
  throw new TypeError(`Expected \`lock\` to be a boolean, a Lock or an RLock, got ${describe(lock)}`);
}

export function noLockError(what: string): TypeError {
  return new TypeError(`this ${what} was created with \`lock: false\`: it has no lock`);
}
