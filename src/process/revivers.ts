/**
 * What a child must load before it decodes its arguments: the modules that register the revivers of the procq
 * handles among them. The package root registers every reviver, but importing it costs a spawned child about a
 * seventh of Node's own start-up (compiling the whole library: measured with callgrind, 86 M instructions over a
 * 517 M empty Node program); a child handed a `Queue` needs the queue's module only (41 M), and one whose target
 * imports `procq` itself has it all loaded already.
 *
 * The parent lists the handle types (`handleTypesOf`, a walk over the arguments that finds at least every handle
 * the codec finds); the child loads what they need (`loadRevivers`), the package root for any type not listed
 * here or when no list came.
 */
import { handleTypeOf, isShareable } from '../codec/handles.js';
import { isPlainContainer } from '../codec/index.js';

/** The module that registers each handle type's reviver, where a smaller one than the package root does. */
const MODULE_OF: Readonly<Record<string, () => Promise<unknown>>> = {
  Queue: () => import('../queue/queue.js'),
  JoinableQueue: () => import('../queue/queue.js'),
  SimpleQueue: () => import('../queue/queue.js'),
};

/**
 * The handle types inside `value`, sorted. Walks what the codec walks for handles (codec/index.ts): arrays, plain
 * objects, Maps and Sets, cycles included; not class instances (their getters are not run), not a handle's state.
 */
export function handleTypesOf(value: unknown): string[] {
  const types = new Set<string>();
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) continue;
    seen.add(v);
    if (isShareable(v)) {
      // A handle of a class that did not call `shareable` (a Manager proxy, a RedisQueue, a ShareableList) has no
      // type to read without describing it: list it as unknown, so that the child loads the package root.
      types.add(typeOfClassOrUnknown(v));
      continue;
    }
    if (!isPlainContainer(v)) continue;
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) for (const x of v) stack.push(x);
    else for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return [...types].sort();
}

function typeOfClassOrUnknown(v: object): string {
  try {
    return handleTypeOf(v);
  } catch {
    return UNKNOWN;
  }
}

/** A handle type that no entry of MODULE_OF names: its child loads the package root. */
const UNKNOWN = '?';

/** Loads the revivers of `types` (`undefined`: unknown, so all of them: the package root). */
export async function loadRevivers(types: readonly string[] | undefined): Promise<void> {
  if (types === undefined || types.some((type) => MODULE_OF[type] === undefined)) {
    await import('../index.js');
    return;
  }
  await Promise.all([...new Set(types.map((type) => MODULE_OF[type]!))].map((load) => load()));
}
