/**
 * Finding, in the pool, where its workers will find a function: `Process`'s target rules (src/process/target.ts),
 * each function numbered once so that a task names it by number and a worker imports it once.
 *
 * A function given to the pool is
 * - a function exported from an ES module: the module that calls the pool method, or a module that one imports it
 *   from with a relative specifier (`import { square } from './tasks.js'`);
 * - an export's name (a string), of the pool's `module` option;
 * - `{ module, name }`: `name` (a string, or the function itself) exported by `module` (a path or `file:` URL).
 */
import { ProcessError } from '../errors.js';
import { describe } from '../options.js';
import { resolveTarget } from '../process/target.js';
import type { FunctionSpec } from './protocol.js';

/** A function for the pool: see the module comment. */
export type PoolFunction = Function | string | FunctionRef;

/** A function named by its module and export. */
export interface FunctionRef {
  /** A path (relative to the working directory) or a `file:` URL. */
  readonly module: string | URL;
  /** The export's name, or the exported function itself. */
  readonly name: string | Function;
}

export interface FunctionEntry {
  readonly id: number;
  readonly spec: FunctionSpec;
}

/** `Process`'s messages, said of the pool. */
function adapt(message: string): string {
  return message
    .replace(/^cannot start the process: /, '')
    .replaceAll('`new Process`', 'the pool method')
    .replaceAll('child processes', 'pool workers')
    .replaceAll('with `target`', 'as { module, name }');
}

export class FunctionTable {
  /** By function and `module` (a function given alone is found the same way whoever calls: key ''). */
  readonly #byFunction = new WeakMap<Function, Map<string, FunctionEntry>>();
  readonly #bySpec = new Map<string, FunctionEntry>();
  #nextId = 1;

  /**
   * @param poolModule the pool's `module` option, for functions given by name
   * @param callerUrl the module that called the pool method, for functions given as themselves (asked only
   *   when needed)
   * @throws TypeError for what is not a function, a name or a `{ module, name }`; ProcessError (saying what to
   *   export) for a function that visibly cannot be found
   */
  resolve(
    fn: unknown,
    poolModule: string | URL | undefined,
    callerUrl: () => string | undefined,
  ): FunctionEntry {
    let target: unknown = fn;
    let module: string | URL | undefined;
    if (typeof fn === 'object' && fn !== null && 'module' in fn) {
      ({ name: target, module } = fn as FunctionRef);
      if (typeof target !== 'string' && typeof target !== 'function') {
        throw new TypeError(
          `Expected \`name\` of { module, name } to be an export's name or the exported function, got ${describe(target)}`,
        );
      }
    } else if (typeof fn === 'string') {
      if (poolModule === undefined) {
        throw new TypeError(
          `Expected a function exported from an ES module, got the name ${describe(fn)} with no module: give the pool a \`module\` option, or pass { module, name }`,
        );
      }
      module = poolModule;
    } else if (typeof fn !== 'function') {
      throw new TypeError(
        `Expected a function exported from an ES module, an export's name, or { module, name }, got ${describe(fn)}`,
      );
    }
    if (typeof target === 'function' && target.name === '' && module === undefined) {
      throw new ProcessError(
        'the pool cannot run this function: it has no name (an arrow or a function expression written in place), and pool workers import a module and call one of its exports; declare it as `export function work(…)` in a module and pass `work`',
      );
    }
    // A function given alone resolves to where it is exported, wherever the call comes from: once found, the
    // caller (read from the stack, the costly part) is not needed again.
    const where = module instanceof URL ? module.href : (module ?? '');
    if (typeof target === 'function') {
      const cached = this.#byFunction.get(target)?.get(where);
      if (cached) return cached;
    }
    let spec: FunctionSpec;
    try {
      spec = resolveTarget(target, module, module === undefined ? callerUrl() : undefined);
    } catch (error) {
      if (error instanceof ProcessError) {
        throw new ProcessError(`the pool cannot run this function: ${adapt(error.message)}`, {
          cause: error,
        });
      }
      if (error instanceof TypeError) throw new TypeError(adapt(error.message), { cause: error });
      throw error;
    }
    const key = `${spec.moduleUrl}\n${spec.exportName}\n${spec.source ?? ''}`;
    let entry = this.#bySpec.get(key);
    if (entry === undefined) this.#bySpec.set(key, (entry = { id: this.#nextId++, spec }));
    if (typeof target === 'function') {
      let byWhere = this.#byFunction.get(target);
      if (byWhere === undefined) this.#byFunction.set(target, (byWhere = new Map()));
      byWhere.set(where, entry);
    }
    return entry;
  }
}
