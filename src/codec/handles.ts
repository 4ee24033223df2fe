/**
 * procq handles: objects (a Queue, a Lock, …) that travel as a description of their shared memory and arrive
 * attached to the same memory, instead of as a copy.
 *
 * A class becomes a handle with one call, `shareable(cls, type, revive, describe)`, made in the class's
 * `static {}` block (where `describe` may read private fields): instances then describe themselves as
 * `{ type, state: describe(obj) }` and the codec revives that description with `revive(state)` on the other side.
 * A subclass calls it with its own `type` and `revive` and inherits `describe`. The codec finds handles anywhere
 * inside an item (arrays, plain objects, Maps, Sets, at any depth, cycles included).
 */
export const kHandle: unique symbol = Symbol.for('procq.handle');

export interface HandleDescriptor {
  readonly type: string;
  readonly state: unknown;
  /**
   * True when the state is valid on any machine (a Redis queue: a URL and a name), so the handle may travel over
   * the network; absent for handles of one machine's memory (a shared-memory Queue, a Lock).
   */
  readonly portable?: boolean;
}

export interface Shareable {
  [kHandle](): HandleDescriptor;
}

type Reviver = (state: any) => unknown;
const revivers = new Map<string, Reviver>();

export function registerHandle(type: string, revive: Reviver): void {
  revivers.set(type, revive);
}

const typeOfClass = new WeakMap<object, string>();

/** The handle type of `obj`: that of its nearest class that called `shareable`. */
export function handleTypeOf(obj: object): string {
  for (let p = Object.getPrototypeOf(obj); p !== null; p = Object.getPrototypeOf(p)) {
    const type = typeOfClass.get(p);
    if (type !== undefined) return type;
  }
  throw new TypeError('procq: this object has no handle type');
}

/**
 * Makes the instances of `cls` procq handles of type `type` (see the module comment). `describe` gives the
 * cloneable state another thread or process attaches from (omitted: the superclass's); `revive` attaches it.
 */
type ArrivalHook = (type: string, object: object, state: unknown) => void;
let arrivalHook: ArrivalHook | undefined;

/**
 * Lets a layer above the codec hear of every object that arrives in this process (`procq ls` records it in this
 * process's registry: inspect/registry.ts). One hook; the codec does not depend on the layer that sets it.
 */
export function onObjectArrival(hook: ArrivalHook): void {
  arrivalHook = hook;
}

function onArrival<C extends object>(type: string, object: C, state: unknown): C {
  arrivalHook?.(type, object, state);
  return object;
}

export function shareable<C extends object, S>(
  cls: abstract new (...args: any[]) => C,
  type: string,
  revive: (state: S) => C,
  describe?: (obj: C) => S,
): void {
  typeOfClass.set(cls.prototype, type);
  registerHandle(type, (state: S) => onArrival(type, revive(state), state));
  if (describe === undefined) return;
  Object.defineProperty(cls.prototype, kHandle, {
    configurable: true,
    writable: true,
    value(this: C): HandleDescriptor {
      return { type: handleTypeOf(this), state: describe(this) };
    },
  });
}

/** The description of a handle (`TypeError` for what is not one). */
export function handleOf(value: unknown): HandleDescriptor {
  if (!isShareable(value)) throw new TypeError('procq: expected a procq object that can be shared');
  return value[kHandle]();
}

export function isShareable(value: unknown): value is Shareable {
  return typeof value === 'object' && value !== null && typeof (value as any)[kHandle] === 'function';
}

export function reviveHandle(descriptor: HandleDescriptor): unknown {
  const revive = revivers.get(descriptor.type);
  if (!revive) {
    throw new TypeError(
      `procq cannot revive a ${descriptor.type} here: its module is not loaded in this thread (import it from 'procq')`,
    );
  }
  return revive(descriptor.state);
}
