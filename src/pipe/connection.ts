/**
 * `Connection`: one end of a `Pipe`, Python's `multiprocessing.connection.Connection`, over shared memory.
 *
 * ```ts
 * const [a, b] = Pipe();
 * a.send({ hello: 'world' });               // never waits: the pipe's memory grows as needed
 * await b.recv();                           // waits for a message; EOFError once `a` is closed and drained
 * b.sendBytes(Buffer.from('raw')); await a.recvBytes();
 * if (await b.poll(100)) { … }              // is there something to read (or EOF)? milliseconds
 * a.close();
 * ```
 *
 * Messages are what a `Queue` carries (structured clone, procq handles, fast paths for strings, numbers and
 * bytes), delivered in order, whole, however large. An end is closed when its last holder is gone: every copy
 * closed (`close()`), ended with its thread or process, or garbage-collected (control.ts); a copy passed to another
 * thread or process is a new holder, as a duplicated file descriptor is. The other end then reads what is left,
 * then `recv` throws `EOFError`, and its `send` throws `BrokenPipeError`.
 *
 * Each direction is a ring (`queue/engine.ts`, unbounded): end e reads ring e and writes ring 1 - e; a one-way pipe
 * has ring 0 only (end 0 reads, end 1 writes). Closing an end shuts down both of its rings in drain mode: its
 * reader sees `ShutDown` once drained (reported as `EOFError`), its writer at once (reported as `BrokenPipeError`).
 */
import * as v8 from 'node:v8';
import { shareable } from '../codec/handles.js';
import { decodeValue, encodeValue } from '../codec/index.js';
import type { WaitPoint } from '../connection/wait-point.js';
import {
  abortErrorFrom,
  BrokenPipeError,
  ClosedError,
  Empty,
  EOFError,
  ShutDown,
  TimeoutError,
} from '../errors.js';
import { type Inspect, type InspectOptions, inspectCustom, inspectStats } from '../inspect/custom.js';
import type { PipeStats } from '../inspect/read.js';
import { register } from '../inspect/registry.js';
import { pipeStats } from '../inspect/stats.js';
import { attachSegment, type SegmentHandle } from '../memory/index.js';
import { QueueEngine } from '../queue/engine.js';
import {
  checkWaitArg,
  describe,
  rejecting,
  type SyncWaitOptions,
  type WaitOptions,
  type WaitSpec,
} from '../sync/core.js';
import { deadlineOf, ownerWord, WAIT_SLICE_MS } from '../wait/index.js';
import { Control } from './control.js';

const NONE: unique symbol = Symbol('none');

/** What another thread or process attaches from. */
interface ConnectionState {
  readonly control: SegmentHandle;
  readonly rings: readonly (SegmentHandle | null)[];
  readonly end: number;
  /** The holder slot reserved for the receiver, held by `from` (the sender's holder word) until it takes it over. */
  readonly slot: number;
  readonly from: number;
  readonly label?: string;
}

/** One holder of an end: what `close()` and the garbage collector's finalizer release. */
interface Hold {
  readonly control: Control;
  readonly rings: readonly (QueueEngine | null)[];
  readonly end: number;
  slot: number;
  readonly label?: string;
}

/** Closes `end` when no holder is left: both of its rings shut down (drain), the peer sees EOF / broken pipe. */
function closeEndIfUnheld(control: Control, rings: readonly (QueueEngine | null)[], end: number): void {
  if (control.held(end)) return;
  rings[end]?.shutdown(false);
  rings[1 - end]?.shutdown(false);
}

function release(hold: Hold): void {
  if (hold.slot < 0) return;
  hold.control.free(hold.end, hold.slot);
  hold.slot = -1;
  closeEndIfUnheld(hold.control, hold.rings, hold.end);
}

/** A Connection dropped without `close()` is closed when collected (as Python's `__del__` closes its handle). */
const finalizer = new FinalizationRegistry<Hold>(release);

const kAttach = Symbol('procq.attach');

export class Connection<T = unknown> implements Disposable, AsyncIterable<T> {
  readonly #hold: Hold;
  readonly #reader: QueueEngine | null;
  readonly #writer: QueueEngine | null;
  #closed = false;
  readonly #readable = (): boolean => {
    const r = this.#reader!;
    return r.ring.size() > 0 || r.shutdownState() !== 0;
  };
  /** After each slice of a reader's wait (100 ms): closes the other end if its writers died without closing. */
  readonly #sweepPeer = (): boolean => {
    const { control, rings, end } = this.#hold;
    control.sweep(1 - end);
    closeEndIfUnheld(control, rings, 1 - end);
    return this.#readable();
  };

  /** @internal Connections come from `Pipe()`, or arrive from another thread or process. */
  constructor(attach: typeof kAttach, hold: Hold) {
    if (attach !== kAttach) throw new TypeError('a Connection is made by Pipe(): `const [a, b] = Pipe()`');
    this.#hold = hold;
    this.#reader = hold.rings[hold.end] ?? null;
    this.#writer = hold.rings[1 - hold.end] ?? null;
    finalizer.register(this, hold, hold);
  }

  /** @internal */
  static _create<T>(
    control: Control,
    rings: (QueueEngine | null)[],
    end: number,
    label: string | undefined,
  ): Connection<T> {
    return new Connection<T>(kAttach, { control, rings, end, slot: 0, label });
  }

  /** A snapshot of the whole pipe for metrics and `procq ls`: bytes and messages waiting for each end, holders. */
  stats(): PipeStats {
    const { control, rings, label } = this.#hold;
    return pipeStats(
      control.seg,
      rings.map((r) => r?.seg ?? null),
      label,
    );
  }

  /** What `console.log()` shows: `stats()`, not the shared-memory internals. */
  [inspectCustom](_depth: number, options: InspectOptions, inspect: Inspect): string {
    return inspectStats(this, options, inspect);
  }

  /** Whether `close()` was called on this object. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether this end can receive (false for the sending end of a one-way pipe). */
  get readable(): boolean {
    return this.#reader !== null;
  }

  /** Whether this end can send (false for the receiving end of a one-way pipe). */
  get writable(): boolean {
    return this.#writer !== null;
  }

  /**
   * Sends `obj` (anything a `Queue` carries) to the other end. Never waits. Throws `BrokenPipeError` when the
   * other end is closed, `TypeError` when `obj` cannot be cloned (nothing is sent), `ClosedError` after `close()`.
   */
  send(obj: T): void {
    this.#put(obj);
  }

  /**
   * Sends bytes `[offset, offset + size)` of `buffer` as one message (offsets in bytes; `size` defaults to the
   * rest). `RangeError` for a range outside the buffer.
   */
  sendBytes(buffer: ArrayBufferView | ArrayBuffer, offset = 0, size?: number): void {
    this.#put(bytesOf(buffer, offset, size));
  }

  /**
   * Receives the next message, waiting for one. `timeout` (ms) and `signal` are procq's additions. Rejects with
   * `EOFError` when the other end is closed and nothing is left, `TimeoutError` when `timeout` passes.
   *
   * Abort safety: when the signal aborts, no message has been taken.
   */
  recv(options?: WaitOptions): Promise<T> {
    return rejecting(async () =>
      fromBytes(await this.#recv(checkWaitArg(options ?? null, true))),
    ) as Promise<T>;
  }

  /** Like `recv`, blocking the calling thread. */
  recvSync(options?: SyncWaitOptions): T {
    return fromBytes(this.#recvSync(checkWaitArg(options ?? null, false))) as T;
  }

  /**
   * Receives the next message as bytes: a message sent with `sendBytes` (or any byte array) as is; any other
   * message as its structured-clone serialization (as Python's `recv_bytes` returns the pickle; `v8.deserialize`
   * reads it). With `maxlength`, a longer message is an error (`RangeError`) and is consumed, as in Python.
   *
   * Relaying is lossless, as in Python (`recv()` is `decode(recv_bytes())`): bytes from `recvBytes()` sent on with
   * `sendBytes()` arrive through `recv()` as the value, not as its serialization. (A byte message that is such a
   * serialization is decoded by `recv()`; other bytes arrive as they were sent.) A message holding procq objects
   * over thread-only memory cannot be given as bytes (`TypeError`).
   *
   * Abort safety: when the signal aborts, no message has been taken.
   */
  recvBytes(maxlength?: number, options?: WaitOptions): Promise<Buffer> {
    return rejecting(async () => {
      const max = checkMaxlength(maxlength);
      return toBytes(await this.#recv(checkWaitArg(options ?? null, true)), max);
    });
  }

  /** Like `recvBytes`, blocking the calling thread. */
  recvBytesSync(maxlength?: number, options?: SyncWaitOptions): Buffer {
    const max = checkMaxlength(maxlength);
    return toBytes(this.#recvSync(checkWaitArg(options ?? null, false)), max);
  }

  /**
   * Whether a `recv` would return at once (a message is waiting, or the other end is closed so it would throw
   * `EOFError`), waiting up to `timeout` ms for that: 0 (the default) or a negative timeout does not wait, `null` or `Infinity` waits
   * as long as it takes. Also `{ timeout, signal }`.
   *
   * Abort safety: nothing is taken either way.
   */
  poll(timeout: number | null | WaitOptions = 0): Promise<boolean> {
    return rejecting(async () => {
      const { timeoutMs, signal } = checkPollArg(timeout, true);
      if (signal?.aborted) throw abortErrorFrom(signal);
      const reader = this.#readEnd();
      if (this.#readable()) return true;
      return reader.ring.getters.wait(this.#readable, deadlineOf(timeoutMs), signal, this.#sweepPeer);
    });
  }

  /** Like `poll`, blocking the calling thread. */
  pollSync(timeout: number | null | SyncWaitOptions = 0): boolean {
    const { timeoutMs } = checkPollArg(timeout, false);
    const reader = this.#readEnd();
    if (this.#readable()) return true;
    return reader.ring.getters.waitSync(this.#readable, deadlineOf(timeoutMs), this.#sweepPeer);
  }

  /**
   * This holder lets go of its end: when it was the last, the other end reads what is left, then gets
   * `EOFError` (and `BrokenPipeError` on `send`). Idempotent. Messages already sent are never lost.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    finalizer.unregister(this.#hold);
    release(this.#hold);
  }

  /** `using`: closes at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields messages until the other end is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let message: T;
      try {
        message = await this.recv();
      } catch (err) {
        if (err instanceof EOFError) return;
        throw err;
      }
      yield message;
    }
  }

  /** @internal for `wait()`: where a reader sleeps, and whether a `recv` would return at once. */
  _waitPoint(): WaitPoint {
    const reader = this.#readEnd();
    const { getters } = reader.ring;
    return {
      seg: getters.seg,
      word: getters.word,
      waiters: getters.waiters,
      ready: this.#readable,
      sliceMs: WAIT_SLICE_MS,
      onSlice: this.#sweepPeer,
    };
  }

  // ---------------------------------------------------------------- internals

  #put(obj: unknown): void {
    if (this.#closed) throw new ClosedError('connection');
    const writer = this.#writer;
    if (writer === null)
      throw new TypeError('this Connection is read-only (the receiving end of a one-way Pipe)');
    try {
      writer.putSync(obj, Number.POSITIVE_INFINITY);
    } catch (err) {
      if (err instanceof ShutDown) throw new BrokenPipeError();
      throw err;
    }
  }

  #readEnd(): QueueEngine {
    if (this.#closed) throw new ClosedError('connection');
    const reader = this.#reader;
    if (reader === null)
      throw new TypeError('this Connection is write-only (the sending end of a one-way Pipe)');
    return reader;
  }

  /** One message if there is one now; EOFError when closed and drained. */
  #take(reader: QueueEngine): unknown {
    if (!this.#readable()) return NONE;
    try {
      return reader.getSync(0);
    } catch (err) {
      if (err instanceof ShutDown) throw new EOFError();
      if (err instanceof Empty) return NONE; // another holder of this end took it first
      throw err;
    }
  }

  #recvSync({ timeoutMs }: WaitSpec): unknown {
    const reader = this.#readEnd();
    const deadline = deadlineOf(timeoutMs);
    for (;;) {
      const m = this.#take(reader);
      if (m !== NONE) return m;
      if (!reader.ring.getters.waitSync(this.#readable, deadline, this.#sweepPeer)) {
        throw new TimeoutError('no message arrived before the timeout');
      }
    }
  }

  async #recv({ timeoutMs, signal }: WaitSpec): Promise<unknown> {
    const reader = this.#readEnd();
    const deadline = deadlineOf(timeoutMs);
    for (;;) {
      if (signal?.aborted) throw abortErrorFrom(signal);
      const m = this.#take(reader);
      if (m !== NONE) return m;
      const ready = await reader.ring.getters.wait(this.#readable, deadline, signal, this.#sweepPeer);
      if (!ready) throw new TimeoutError('no message arrived before the timeout');
    }
  }

  static {
    shareable(Connection, 'Connection', attachConnection, (c) => c.#describe());
  }

  /** The description another thread or process attaches from: a new holder, reserved now. */
  #describe(): ConnectionState {
    if (this.#closed) throw new ClosedError('connection');
    const { control, rings, end } = this.#hold;
    const from = ownerWord();
    const slot = control.take(end, from);
    if (slot < 0) throw new RangeError('too many holders of this Connection (copies alive or in flight)');
    const state: ConnectionState = {
      control: control.seg.handle(),
      rings: rings.map((r) => r?.seg.handle() ?? null),
      end,
      slot,
      from,
      ...(this.#hold.label === undefined ? {} : { label: this.#hold.label }),
    };
    return state;
  }

  get [Symbol.toStringTag](): string {
    return 'Connection';
  }
}

function attachConnection(state: ConnectionState): Connection {
  const control = new Control(attachSegment(state.control));
  const rings = state.rings.map((h) =>
    h === null ? null : new QueueEngine(attachSegment(h), undefined, false),
  );
  let slot = control.takeOver(state.end, state.slot, state.from) ? state.slot : -1;
  // The reservation was swept (its sender died before we arrived): hold the end anew if it is still open.
  if (slot < 0 && (rings[state.end] ?? rings[1 - state.end])!.shutdownState() === 0)
    slot = control.take(state.end);
  register('attach', 'Pipe', control.seg, 0, state.label);
  return new Connection(kAttach, { control, rings, end: state.end, slot, label: state.label });
}

function checkPollArg(arg: unknown, allowSignal: boolean): WaitSpec {
  if (arg === null) return { timeoutMs: Number.POSITIVE_INFINITY, signal: undefined };
  if (typeof arg === 'object' && (arg as WaitOptions).timeout === undefined) {
    return { ...checkWaitArg(arg, allowSignal), timeoutMs: 0 };
  }
  return checkWaitArg(arg, allowSignal);
}

function checkMaxlength(maxlength: unknown): number {
  if (maxlength === undefined || maxlength === null) return Number.POSITIVE_INFINITY;
  if (typeof maxlength !== 'number' || !Number.isInteger(maxlength) || maxlength < 0) {
    throw new RangeError(`Expected \`maxlength\` to be a non-negative integer, got ${describe(maxlength)}`);
  }
  return maxlength;
}

/** What `recv` returns for a message: the value a serialization (from `recvBytes`) stands for, else the message. */
function fromBytes(message: unknown): unknown {
  if (
    !(message instanceof Uint8Array) ||
    message.length < 3 ||
    message[0] !== 0xff ||
    message[1] !== V8_VERSION
  ) {
    return message;
  }
  try {
    return decodeValue({ bytes: message, sabs: [], handles: true });
  } catch {
    return message; // bytes that only looked like a serialization
  }
}

function bytesOf(buffer: unknown, offset: unknown, size: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (buffer instanceof ArrayBuffer || buffer instanceof SharedArrayBuffer) bytes = new Uint8Array(buffer);
  else if (ArrayBuffer.isView(buffer))
    bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  else
    throw new TypeError(`Expected \`buffer\` to be an ArrayBuffer or a typed array, got ${describe(buffer)}`);
  const n = bytes.byteLength;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > n) {
    throw new RangeError(
      `Expected \`offset\` to be an integer from 0 to ${n} (the buffer's length), got ${describe(offset)}`,
    );
  }
  const count = size ?? n - offset;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || offset + count > n) {
    throw new RangeError(
      `Expected \`size\` to be an integer from 0 to ${n - offset} (bytes after offset), got ${describe(size)}`,
    );
  }
  return bytes.subarray(offset, offset + count);
}

/** The second byte of every `node:v8` serialization (after 0xFF): the format's version. */
const V8_VERSION = v8.serialize(null)[1];

/** A message given as bytes: itself when it is bytes, else its serialization (procq handles as descriptors). */
function toBytes(message: unknown, maxlength: number): Buffer {
  let bytes: Buffer;
  if (message instanceof Uint8Array) {
    bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  } else {
    const wire = encodeValue(message);
    if (wire.sabs.length > 0) {
      throw new TypeError(
        'this message holds procq objects over thread-only shared memory: it cannot be given as bytes (use recv())',
      );
    }
    bytes = Buffer.from(wire.bytes.buffer, wire.bytes.byteOffset, wire.bytes.byteLength);
  }
  if (bytes.byteLength > maxlength) {
    throw new RangeError(`the message is ${bytes.byteLength} bytes, more than maxlength (${maxlength})`);
  }
  return bytes;
}
