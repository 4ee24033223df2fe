/**
 * Where a child finds its target: a module URL and an export name, worked out in the parent.
 *
 * A child cannot receive a function (functions do not clone), so it imports the module that exports the target
 * and calls the export, as CPython's spawn start method re-imports `__main__` and looks the function up by name.
 * Without `module`, the module is the file that called `new Process` (read from the stack at construction).
 *
 * What can be known synchronously fails `start()` (a missing file, a function the module's source visibly does not
 * export); what cannot (an export that is not a function, an alias we could not read) is checked by the child,
 * which exits at once with code 1 and says why. The source check is deliberately conservative: it throws only when
 * the name is declared in the file and no export statement mentions it, or when the name appears nowhere at all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ProcessError } from '../errors.js';
import { describe } from '../options.js';

/** What the child needs to find and call the target. */
export interface TargetSpec {
  readonly moduleUrl: string;
  readonly exportName: string;
  /** The function's source text, to find it among the exports when its name is not the export's name. */
  readonly source?: string;
}

/** The module URL of the code that called `ctor` (a `file:` URL), or `undefined` when it is not a file. */
export function callerModuleUrl(ctor: Function): string | undefined {
  const holder: { stack?: NodeJS.CallSite[] } = {};
  const saved = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 1;
    Error.prepareStackTrace = (_error, sites) => sites;
    Error.captureStackTrace(holder, ctor);
    const file = holder.stack?.[0]?.getFileName();
    if (!file || /[\\/]\[eval\d*\]$/.test(file)) return undefined; // no file: `node -e`, the REPL
    if (file.startsWith('file:')) return file;
    return isAbsolute(file) ? pathToFileURL(file).href : undefined;
  } finally {
    Error.prepareStackTrace = saved;
    Error.stackTraceLimit = savedLimit;
  }
}

function moduleUrlOf(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (module.startsWith('file:')) return new URL(module).href;
  return pathToFileURL(resolve(module)).href;
}

/** Works out, in the parent, where the child will find `target`. Throws `TypeError` / `ProcessError`. */
export function resolveTarget(
  target: unknown,
  module: string | URL | undefined,
  callerUrl: string | undefined,
): TargetSpec {
  if (module !== undefined && typeof module !== 'string' && !(module instanceof URL)) {
    throw new TypeError(`Expected \`module\` to be a path or a file: URL, got ${describe(module)}`);
  }
  if (module === undefined && typeof target !== 'function') {
    throw new TypeError(
      `Expected \`target\` to be a function exported from an ES module (or an export's name together with \`module\`), got ${describe(target)}`,
    );
  }
  if (typeof target !== 'function' && typeof target !== 'string') {
    throw new TypeError(
      `Expected \`target\` to be an exported function or the name of an export of \`module\`, got ${describe(target)}`,
    );
  }
  const fn = typeof target === 'function' ? target : undefined;
  const name = typeof target === 'string' ? target : target.name;
  let moduleUrl: string;
  if (module !== undefined) {
    moduleUrl = moduleUrlOf(module);
  } else if (callerUrl !== undefined) {
    moduleUrl = callerUrl;
  } else {
    throw new ProcessError(
      `cannot tell which module exports the target function${name ? ` '${name}'` : ''}: \`new Process\` was not called from a module file; export the function from a module and pass \`module\` (a path or file: URL) with \`target\``,
    );
  }
  if (!moduleUrl.startsWith('file:')) {
    throw new ProcessError(`\`module\` must be a file path or a file: URL, got '${moduleUrl}'`);
  }
  const path = fileURLToPath(moduleUrl);
  const how = fn ? `export the function: \`export function ${name || 'myTarget'}(…)\`` : `export '${name}'`;
  if (!existsSync(path)) {
    throw new ProcessError(
      `cannot start the process: module ${path} does not exist (${how} from an existing module file)`,
    );
  }
  if (name === '' && fn) {
    // An anonymous function: only its source text can find it among the module's exports.
    return { moduleUrl, exportName: '', source: String(fn) };
  }
  const source = sourceOf(path);
  const found = exportOf(path, source, name);
  if (found === undefined && module === undefined) {
    // Not exported by the caller, but perhaps imported by it from a relative module: Python pickles a function as
    // "module.name", so an imported target works there too.
    const imported = findImport(source, name, moduleUrl);
    if (imported) {
      const found2 = findExport(sourceOf(fileURLToPath(imported.moduleUrl)), imported.exportName);
      if (found2 !== null) {
        return {
          moduleUrl: imported.moduleUrl,
          exportName: found2 ?? imported.exportName,
          source: String(fn),
        };
      }
    }
  }
  if (found === null) {
    const where = module === undefined ? 'the module that calls `new Process`' : 'the module';
    throw new ProcessError(
      `cannot start the process: ${where} ${path} does not export '${name}': ${how} (child processes import the module and call the export by name)`,
    );
  }
  return { moduleUrl, exportName: found ?? name, source: fn ? String(fn) : undefined };
}

/**
 * Finds `import { name } from './rel.js'` (or `{ x as name }`, `{ name as y }`, or a default import `name`) in
 * `source` and returns the module it comes from, when that is a relative specifier naming an existing file (with a
 * TypeScript twin accepted for a `.js` specifier, as TypeScript's own resolution does).
 */
export function findImport(
  source: string,
  name: string,
  fromUrl: string,
): { moduleUrl: string; exportName: string } | undefined {
  const re = /\bimport\s+(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const [, def, list, specifier] of source.matchAll(re)) {
    let exportName: string | undefined;
    if (def === name) exportName = 'default';
    for (const entry of list?.split(',') ?? []) {
      const [imported, local] = entry
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/);
      if (imported && (imported === name || local === name)) exportName = imported;
    }
    if (exportName === undefined) continue;
    const url = new URL(specifier!, fromUrl);
    for (const candidate of [
      url.href,
      ...['.ts', '.mts', '.tsx'].map((ext) => url.href.replace(/\.[cm]?jsx?$/, ext)),
    ]) {
      if (existsSync(fileURLToPath(candidate))) return { moduleUrl: candidate, exportName };
    }
  }
  return undefined;
}

const sources = new Map<string, string>();
function sourceOf(path: string): string {
  let text = sources.get(path);
  if (text === undefined) {
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = '';
    }
    sources.set(path, text);
  }
  return text;
}

/**
 * `findExport` of a module read once (`sourceOf`), remembered: a program that starts many processes on one target
 * reads its module once, and its regular expressions are not compiled again on every `start()`.
 */
const exports = new Map<string, string | null | undefined>();
function exportOf(path: string, source: string, name: string): string | null | undefined {
  const key = `${path}\0${name}`;
  if (exports.has(key)) return exports.get(key);
  const found = findExport(source, name);
  exports.set(key, found);
  return found;
}

const escapeRe = (s: string) => s.replace(/[$]/g, '\\$');

/**
 * Reads `source` for an export of the local binding `name`. Returns the export's name when found, `null` when
 * confident that nothing exports it, `undefined` when it cannot tell (the child then decides).
 */
export function findExport(source: string, name: string): string | null | undefined {
  if (source === '' || !/^[\p{ID_Start}$_][\p{ID_Continue}$]*$/u.test(name)) return undefined;
  const n = escapeRe(name);
  const declaredExport = new RegExp(
    String.raw`\bexport\s+(default\s+)?(?:declare\s+)?(?:async\s+)?(?:function\s*\*?\s*|class\s+|const\s+|let\s+|var\s+)${n}(?![\p{ID_Continue}$])`,
    'u',
  ).exec(source);
  if (declaredExport) return declaredExport[1] ? 'default' : name;
  for (const list of source.matchAll(/\bexport\s*(?:type\s*)?\{([^}]*)\}/g)) {
    for (const entry of list[1]!.split(',')) {
      const [local, alias] = entry.trim().split(/\s+as\s+/);
      if (local === name) return alias?.trim() || name;
    }
  }
  if (new RegExp(String.raw`\bexport\s+default\s+${n}\s*(?:;|$)`, 'mu').test(source)) return 'default';
  // Anything we cannot read precisely makes us unsure.
  if (/\bexport\s*\*|\bmodule\.exports\b|\bexports\.[\w$]+\s*=|\bexport\s*=/.test(source)) return undefined;
  if (
    /\bexport\s+default\s+(?!(?:async\s+)?function\s*\*?\s*[\w$]+\s*\(|class\s+[\w$]+|[\w$]+\s*(?:;|$))/m.test(
      source,
    )
  ) {
    return undefined;
  }
  const word = new RegExp(String.raw`(?<![\p{ID_Continue}$.])${n}(?![\p{ID_Continue}$])`, 'u');
  for (const line of source.matchAll(/\bexport\b[^\n]*/g)) if (word.test(line[0])) return undefined;
  if (!word.test(source)) return null;
  const declared = new RegExp(
    String.raw`(?:\bfunction\s*\*?\s*|\bclass\s+|\b(?:const|let|var)\s+)${n}(?![\p{ID_Continue}$])`,
    'u',
  );
  return declared.test(source) ? null : undefined;
}
