/**
 * `SocketConnection`: a `Connection` over a TCP or unix socket, as `Listener.accept()` and `Client()` return it:
 * the same surface as a `Pipe`'s `Connection` (send / recv / sendBytes / recvBytes / poll / close, `EOFError` once
 * the peer has closed and everything it sent has been read), its async forms only (a socket is read by the event
 * loop, so a thread cannot block on it).
 *
 * Wire format, Python's (`multiprocessing.connection`): each message is a 4-byte big-endian signed length, then
 * the bytes; a length of -1 is followed by an 8-byte big-endian length (messages of 2 GiB and more). `sendBytes`
 * puts the bytes as they are, so a procq program and a Python program exchange `send_bytes`/`recv_bytes` messages
 * (and run each other's authentication). `send` puts the value's structured-clone serialization (procq's codec,
 * procq handles included), where Python puts a pickle: the two languages exchange objects as bytes only.
 *
 * Lifetime: an open connection does not keep the process alive by itself; a pending `recv` or `poll` does.
 */
import type { Socket } from 'node:net';

import { onAbort } from '../abort.js';
import { decodeValue, encodeValue } from '../codec/index.js';
import {
  abortErrorFrom,
  BrokenPipeError,
  ClosedError,
  EOFError,
  rejecting,
  TimeoutError,
} from '../errors.js';
import { describe } from '../sync/core.js';

export interface RecvOptions {
  /** Milliseconds to wait for a message; `TimeoutError` after. @default no limit */
  timeout?: number;
  signal?: AbortSignal;
}

const HEADER = 4;
const LONG_HEADER = 12;

function checkTimeout(timeout: unknown, name = 'timeout'): number {
  if (timeout === undefined || timeout === null) return Number.POSITIVE_INFINITY;
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(`Expected \`${name}\` to be a number >= 0 (milliseconds), got ${describe(timeout)}`);
  }
  return timeout;
}

export class SocketConnection<T = unknown> implements Disposable, AsyncIterable<T> {
  readonly #socket: Socket;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes the next frame needs before it can be cut (header first). */
  #need = HEADER;
  readonly #messages: Buffer[] = [];
  #eof = false;
  #closed = false;
  #error: Error | undefined;
  readonly #waiters = new Set<() => void>();

  /** @internal made by `Listener.accept()` and `Client()`. */
  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('close', () => this.#onEnd());
    socket.on('error', (err) => {
      this.#error ??= err;
      this.#onEnd();
    });
    socket.unref();
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Always true (a socket connection is duplex). */
  get readable(): boolean {
    return true;
  }
  get writable(): boolean {
    return true;
  }

  /** `[host, port]` (TCP) or the path (unix) of the other end, when known. */
  get remoteAddress(): [string, number] | string | undefined {
    const s = this.#socket;
    return s.remoteAddress !== undefined ? [s.remoteAddress, s.remotePort ?? 0] : undefined;
  }

  /**
   * Sends `obj` (anything a `Queue` carries, procq handles included). Never waits (Node buffers what the socket
   * cannot take yet). `BrokenPipeError` once the peer has closed, `ClosedError` after `close()`.
   */
  send(obj: T): void {
    const wire = encodeValue(obj);
    if (wire.sabs.length > 0) {
      throw new TypeError(
        'cannot send thread-only shared memory (a SharedArrayBuffer, or a procq object made without the native addon) through a socket',
      );
    }
    this.#write(wire.bytes);
  }

  /** Sends bytes `[offset, offset + size)` of `buffer` as one message, as they are (Python's `send_bytes`). */
  sendBytes(buffer: ArrayBufferView | ArrayBuffer, offset = 0, size?: number): void {
    let bytes: Uint8Array;
    if (buffer instanceof ArrayBuffer) bytes = new Uint8Array(buffer);
    else if (ArrayBuffer.isView(buffer))
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    else
      throw new TypeError(
        `Expected \`buffer\` to be an ArrayBuffer or a typed array, got ${describe(buffer)}`,
      );
    const n = bytes.byteLength;
    if (!Number.isInteger(offset) || offset < 0 || offset > n) {
      throw new RangeError(`Expected \`offset\` to be an integer from 0 to ${n}, got ${describe(offset)}`);
    }
    const count = size ?? n - offset;
    if (!Number.isInteger(count) || count < 0 || offset + count > n) {
      throw new RangeError(
        `Expected \`size\` to be an integer from 0 to ${n - offset}, got ${describe(size)}`,
      );
    }
    this.#write(bytes.subarray(offset, offset + count));
  }

  /**
   * The next message, decoded. Rejects with `EOFError` once the peer has closed and nothing is left,
   * `TimeoutError` when `timeout` passes. Abort safety: an aborted `recv` has taken nothing.
   */
  recv(options?: RecvOptions): Promise<T> {
    return rejecting(async () => {
      const bytes = await this.#next(options);
      return decodeValue({ bytes, sabs: [], handles: true }) as T;
    });
  }

  /**
   * The next message as bytes (a `send` message as its serialization). With `maxlength`, a longer message is a
   * `RangeError` and is consumed (Python's `OSError("bad message length")`).
   */
  recvBytes(maxlength?: number, options?: RecvOptions): Promise<Buffer> {
    return rejecting(async () => {
      const max = checkTimeout(maxlength, 'maxlength');
      const bytes = await this.#next(options);
      if (bytes.byteLength > max) {
        throw new RangeError(`bad message length: ${bytes.byteLength} bytes, more than maxlength (${max})`);
      }
      return bytes;
    });
  }

  /**
   * Whether a `recv` would return at once (a message is here, or the peer has closed), waiting up to `timeout`
   * ms for that: 0 (the default) does not wait, `null` waits as long as it takes.
   */
  poll(timeout: number | null = 0): Promise<boolean> {
    return rejecting(async () => {
      const ms = timeout === null ? Number.POSITIVE_INFINITY : checkTimeout(timeout);
      this.#checkOpen();
      if (this._isReady()) return true;
      try {
        await this._whenReady(undefined, ms);
      } catch (err) {
        if (err instanceof TimeoutError) return false;
        throw err;
      }
      return true;
    });
  }

  /** Sync forms cannot exist over a socket (the event loop reads it): this throws, saying so. */
  recvSync(): never {
    throw new TypeError(
      'a socket Connection has no Sync forms (the event loop reads it): use `await recv()`',
    );
  }
  pollSync(): never {
    throw new TypeError(
      'a socket Connection has no Sync forms (the event loop reads it): use `await poll()`',
    );
  }

  /** Closes the connection after what was sent has been flushed; the peer then reads the rest, then `EOFError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const s = this.#socket;
    s.end(() => s.destroy());
    this.#wake();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields messages until the peer has closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let m: T;
      try {
        m = await this.recv();
      } catch (err) {
        if (err instanceof EOFError) return;
        throw err;
      }
      yield m;
    }
  }

  /** @internal for `wait()`: a message is here, or the peer has closed. */
  _isReady(): boolean {
    return this.#messages.length > 0 || this.#eof || this.#closed;
  }

  /**
   * @internal resolves once `_isReady()`; rejects with `AbortError` on abort, `TimeoutError` after `timeoutMs`.
   * Keeps the event loop alive meanwhile.
   */
  _whenReady(signal: AbortSignal | undefined, timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (this._isReady()) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal));
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error) => {
        this.#waiters.delete(wake);
        unsubscribe?.();
        clearTimeout(timer);
        if (this.#waiters.size === 0 && !this.#closed) this.#socket.unref();
        if (err) reject(err);
        else resolve();
      };
      const wake = () => done();

      this.#waiters.add(wake);
      this.#socket.ref();
      const unsubscribe =
        signal === undefined ? undefined : onAbort(signal, () => done(abortErrorFrom(signal)));
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(() => done(new TimeoutError('no message arrived before the timeout')), timeoutMs);
      }
    });
  }

  // ---------------------------------------------------------------- internals

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('connection');
  }

  #write(bytes: Uint8Array): void {
    this.#checkOpen();
    const s = this.#socket;
    if (this.#eof || s.destroyed || s.writableEnded)
      throw new BrokenPipeError('the other end of the connection is closed');
    const n = bytes.byteLength;
    let header: Buffer;
    if (n > 0x7fffffff) {
      header = Buffer.alloc(LONG_HEADER);
      header.writeInt32BE(-1, 0);
      header.writeBigUInt64BE(BigInt(n), 4);
    } else {
      header = Buffer.alloc(HEADER);
      header.writeInt32BE(n, 0);
    }
    s.cork();
    s.write(header);
    s.write(bytes);
    s.uncork();
  }

  async #next(options: RecvOptions | undefined): Promise<Buffer> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const timeoutMs = checkTimeout(options?.timeout);
    this.#checkOpen();
    if (!this._isReady()) await this._whenReady(options?.signal, timeoutMs);
    this.#checkOpen();
    const m = this.#messages.shift();
    if (m !== undefined) return m;
    throw new EOFError(
      this.#error
        ? `the connection failed: ${this.#error.message}`
        : 'the other end of the connection is closed',
    );
  }

  /** Cuts every whole frame out of the bytes received; `#need` is how many buffered bytes the next cut needs. */
  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    if (this.#buffered < this.#need) return;
    const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    let at = 0;
    let need = HEADER;
    const before = this.#messages.length;
    for (;;) {
      const left = buf.byteLength - at;
      if (left < HEADER) break;
      let size = buf.readInt32BE(at);
      let header = HEADER;
      if (size === -1) {
        if (left < LONG_HEADER) {
          need = LONG_HEADER;
          break;
        }
        size = Number(buf.readBigUInt64BE(at + 4));
        header = LONG_HEADER;
      } else if (size < 0) {
        this.#error = new Error(`protocol error: a message length of ${size}`);
        this.#socket.destroy();
        break;
      }
      if (left < header + size) {
        need = header + size;
        break;
      }
      this.#messages.push(Buffer.from(buf.subarray(at + header, at + header + size)));
      at += header + size;
    }
    const rest = buf.subarray(at);
    this.#chunks = rest.byteLength > 0 ? [rest] : [];
    this.#buffered = rest.byteLength;
    this.#need = need;
    if (this.#messages.length > before) this.#wake();
  }

  #onEnd(): void {
    if (this.#eof) return;
    this.#eof = true;
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  get [Symbol.toStringTag](): string {
    return 'SocketConnection';
  }
}
