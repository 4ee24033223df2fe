/**
 * procq handles: objects (a Queue, a Lock, …) that travel as a description of their shared memory and arrive
 * attached to the same memory, instead of as a copy.
 *
 * A class becomes a handle by implementing `[kHandle]()` (returning its type name and a cloneable state) and
 * registering a reviver for that type name with `registerHandle`. The codec finds handles anywhere inside an
 * item (arrays, plain objects, Maps, Sets, at any depth, cycles included).
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
