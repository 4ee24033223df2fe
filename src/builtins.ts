/**
 * Node built-ins that only some paths need, loaded on first use instead of at import.
 *
 * Every process that uses procq imports it, a spawned child included, before its first item: each built-in
 * loaded at the top costs that start-up its load whether or not it is used (`node:crypto` alone is about as much
 * as the rest of these together). Here they cost only the processes that use them: `node:crypto` the ones that
 * name a segment or a socket, authenticate or talk to Redis; `node:child_process` the ones that start children.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const crypto = (): typeof import('node:crypto') => require('node:crypto');

export const childProcess = (): typeof import('node:child_process') => require('node:child_process');

/** `bytes` random bytes as hex: names that must not collide (segments, trees, sockets). */
export function randomHex(bytes: number): string {
  return crypto().randomBytes(bytes).toString('hex');
}
