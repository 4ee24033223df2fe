/**
 * What `console.log()` and `util.inspect()` show for procq's objects: the state their users reason about (read
 * through `stats()`, without taking any lock), not the shared-memory internals behind it.
 */

export const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

export interface InspectOptions {
  stylize(text: string, style: string): string;
}
export type Inspect = (value: unknown, options: InspectOptions) => string;

/** `Kind { ...fields }`: `stats()` without its `kind` (the name) and without a `null` label. */
export function inspectStats(
  obj: { stats(): object; readonly [Symbol.toStringTag]?: string },
  options: InspectOptions,
  inspect: Inspect,
  extra?: () => Record<string, unknown>,
): string {
  let name = obj[Symbol.toStringTag] ?? obj.constructor.name;
  let shown: Record<string, unknown>;
  try {
    const { kind, label, ...rest } = obj.stats() as { kind?: string; label?: string | null };
    if (kind !== undefined) name = kind;
    shown = label === null || label === undefined ? rest : { label, ...rest };
    if (extra !== undefined) Object.assign(shown, extra());
  } catch (err) {
    shown = { unavailable: (err as Error).message };
  }
  return `${options.stylize(name, 'special')} ${inspect(shown, options)}`;
}
