/**
 * The messages between a manager's proxies and its server, over a `SocketConnection` (procq's codec, so values are
 * anything a Queue carries and proxies inside them travel as handles). Each request carries an `id` its response
 * repeats, so one connection per thread serves every proxy of that thread, calls overlapping (a `get` that waits
 * does not hold up a `put` on the same connection).
 *
 * ```
 *  request                                              response
 *  { id, op: 'create', typeid, args }                   { id, ok: true, value: { oid, exposed } }
 *  { id, op: 'call', oid, method, args }                { id, ok: true, value } | { id, ok: false, error }
 *  { id, op: 'release', oid }                           { id, ok: true }
 *  { id, op: 'shutdown' }                               { id, ok: true }   (then the server stops)
 * ```
 */

import type { Address, Family } from '../connection/listener.js';
import * as errors from '../errors.js';
import { BrokenBarrierError, BrokenPipeError } from '../errors.js';
import type { TargetSpec } from '../process/target.js';

export type Request =
  | { id: number; op: 'create'; typeid: string; args: unknown[] }
  | { id: number; op: 'call'; oid: string; method: string; args: unknown[] }
  | { id: number; op: 'release'; oid: string }
  | { id: number; op: 'shutdown' };

export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** What a typeid is made from on the server. */
export interface RegistryEntry {
  /** `null`: a typeid this side may ask for but does not know how to make (Python's `register(typeid)` on clients). */
  readonly target: TargetSpec | null;
  readonly exposed?: readonly string[];
}

export interface ServerConfig {
  readonly address?: Address;
  readonly family?: Family;
  readonly authkey: Uint8Array;
  readonly registry: Record<string, RegistryEntry>;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    return { name: err.name, message: err.message, code: (err as { code?: string }).code, stack: err.stack };
  }
  return { name: 'Error', message: String(err) };
}

const KNOWN: Record<string, new (message?: string) => Error> = {
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  Empty: errors.Empty,
  Full: errors.Full,
  ShutDown: errors.ShutDown,
  TimeoutError: errors.TimeoutError,
  EOFError: errors.EOFError,
  ClosedError: errors.ClosedError,
  BrokenBarrierError,
  BrokenPipeError,
};

/** The server's error, rebuilt as its own class where procq knows it (Empty, Full, TypeError…), else an Error. */
export function fromWireError(e: WireError): Error {
  const Known = KNOWN[e.name];
  let err: Error;
  if (Known === errors.ClosedError) err = new errors.ClosedError();
  else err = Known ? new Known(e.message) : new Error(e.message);
  if (err.message !== e.message) err.message = e.message;
  if (!Known) err.name = e.name;
  if (e.code !== undefined && (err as { code?: string }).code === undefined)
    (err as { code?: string }).code = e.code;
  err.stack = `${err.name}: ${e.message}\n    (raised in the manager's server)\n${e.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return err;
}
