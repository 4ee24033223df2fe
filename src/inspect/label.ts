/**
 * The `label` option every procq object takes: a name for people, shown by `procq ls` / `procq top`, in
 * `stats()`, and in the messages of errors about the object ("queue 'jobs' is full").
 */
import { describe } from '../queue/options.js';

/** Longest label accepted, in UTF-16 code units. */
export const MAX_LABEL_LENGTH = 64;

/** Validates a `label` option: `undefined`, or a string of 1 to 64 characters without control characters. */
export function checkLabel(label: unknown): string | undefined {
  if (label === undefined) return undefined;
  if (typeof label !== 'string')
    throw new TypeError(`Expected \`label\` to be a string, got ${describe(label)}`);
  if (label.length < 1 || label.length > MAX_LABEL_LENGTH || /[\u0000-\u001f\u007f]/.test(label)) {
    throw new RangeError(
      `Expected \`label\` to be 1 to ${MAX_LABEL_LENGTH} characters without control characters, got ${describe(label)}`,
    );
  }
  return label;
}

/** Reads the validated `label` of an options argument (`undefined`, or an object: else a TypeError). */
export function labelOf(options: unknown): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  return checkLabel((options as { label?: unknown }).label);
}

/** How an error message names the object: `queue 'jobs'` when labelled, `the queue` otherwise. */
export function subject(what: string, label: string | undefined): string {
  return label === undefined ? `the ${what}` : `${what} '${label}'`;
}
