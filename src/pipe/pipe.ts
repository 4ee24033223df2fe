/**
 * `Pipe(duplex = true)`: Python's `multiprocessing.Pipe`, two connected `Connection`s over shared memory.
 *
 * ```ts
 * const [parentEnd, childEnd] = Pipe();            // duplex: both ends send and receive
 * new Process({ target: worker, args: [childEnd] }).start();
 * childEnd.close();                                 // the child holds its own copy now (optional here)
 * console.log(await parentEnd.recv());
 *
 * const [reader, writer] = Pipe(false);            // one-way: reader only receives, writer only sends
 * ```
 *
 * Memory: the control words (control.ts) and one ring per direction, each an unbounded queue ring (starts at
 * 64 KiB and grows with the backlog), so `send` never waits and never deadlocks against a full pipe.
 */

import { labelOf } from '../inspect/label.js';
import { register } from '../inspect/registry.js';
import { describe } from '../options.js';
import { QueueEngine } from '../queue/engine.js';
import { DEFAULT_CAPACITY } from '../queue/options.js';
import { Connection } from './connection.js';
import { Control } from './control.js';

/**
 * Two connected ends. Duplex (the default): each sends to and receives from the other. One-way (`false`): the
 * first only receives, the second only sends, as in Python. `options.label`: a name for people, shown by
 * `procq ls` and in `stats()` of either end.
 */
export function Pipe<T = unknown>(
  duplex = true,
  options?: { label?: string },
): [Connection<T>, Connection<T>] {
  if (typeof duplex !== 'boolean')
    throw new TypeError(`Expected \`duplex\` to be a boolean, got ${describe(duplex)}`);
  const label = labelOf(options);
  const ring = () => QueueEngine.create(0, DEFAULT_CAPACITY, undefined, false);
  const rings = duplex ? [ring(), ring()] : [ring(), null];
  const control = Control.create(duplex);
  register(
    'create',
    'Pipe',
    control.seg,
    0,
    label,
    rings.map((r) => r?.seg ?? null),
  );
  return [Connection._create<T>(control, rings, 0, label), Connection._create<T>(control, rings, 1, label)];
}
