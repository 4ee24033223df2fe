/**
 * `SharedMemory`: Python's `multiprocessing.shared_memory.SharedMemory`, a named block of POSIX shared memory that
 * any thread or process attaches by name, its bytes seen through `buf` without a copy.
 *
 * ```ts
 * const shm = new SharedMemory({ create: true, size: 1 << 20 });
 * shm.buf.set([1, 2, 3]);                            // a Uint8Array over the block itself
 * new Process({ target: work, args: [shm.name] }).start();
 * // in the child: const other = new SharedMemory({ name }); other.buf[0] === 1
 * shm.close(); shm.unlink();
 * ```
 *
 * Lifetime, as Python's resource tracker: a block created here and never `unlink()`ed is unlinked when the creating
 * process exits normally (the native addon's exit handler; Python also warns, procq does not). Blocks with
 * procq's default names (`procq-<pid>-<start>-<pidns>-<tree>-<hex>`) left by a creator that was killed are swept like every procq
 * segment (`procq sweep`, or the next segment created on the machine); a killed creator's block with a name of
 * your choosing stays until someone unlinks it.
 *
 * The whole block is committed (`posix_fallocate`) when it is created, so a full `/dev/shm` is an error at
 * `new SharedMemory` instead of a SIGBUS when a byte is touched.
 */
import { type HandleDescriptor, kHandle, registerHandle } from '../codec/handles.js';
import { NativeUnavailableError } from '../errors.js';
import { newSegmentName } from '../memory/shm-segment.js';
import { loadNative, type NativeBinding, nativeLoadError } from '../native/index.js';
import { describe } from '../sync/core.js';

export interface SharedMemoryOptions {
  /** The block's name (without a leading `/`). @default a new unique name when `create`; required otherwise */
  name?: string;
  /** Create a new block (an error when `name` exists) instead of attaching to an existing one. @default false */
  create?: boolean;
  /** Bytes of the new block; ignored when attaching (the block's own size is used). */
  size?: number;
}

/** Longest name Python allows on macOS; Linux allows 254, procq keeps names portable to Python everywhere. */
const MAX_NAME = 254;

function requireNative(): NativeBinding {
  const native = loadNative();
  if (native === null) {
    throw new NativeUnavailableError(`SharedMemory needs the native addon: ${nativeLoadError()}`);
  }
  return native;
}

function defaultName(): string {
  // The shape of procq's segment names, so a killed creator's block is swept with its other segments.
  return newSegmentName();
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME || name.includes('/', 1)) {
    throw new TypeError(
      `Expected \`name\` to be a non-empty string of at most ${MAX_NAME} characters without '/', got ${describe(name)}`,
    );
  }
  return name.startsWith('/') ? name.slice(1) : name;
}

function fileNotFound(name: string, cause: unknown): Error {
  const err = new Error(`No such shared memory block: '${name}'`, { cause }) as NodeJS.ErrnoException;
  err.code = 'ENOENT';
  return err;
}

function fileExists(name: string, cause: unknown): Error {
  const err = new Error(`A shared memory block named '${name}' already exists`, {
    cause,
  }) as NodeJS.ErrnoException;
  err.code = 'EEXIST';
  return err;
}

export class SharedMemory {
  /** The block's name, as other processes pass it to attach (no leading `/`, as Python's). */
  readonly name: string;
  /** The block's size in bytes. */
  readonly size: number;
  #buf: Uint8Array | null;
  readonly #native: NativeBinding;

  /**
   * Creates (`create: true`) or attaches (by `name`) a block. Throws `Error` with `code` `'EEXIST'` when creating
   * a name that exists, `'ENOENT'` when attaching one that does not (Python's `FileExistsError` /
   * `FileNotFoundError`), `RangeError` for a `size` that is not a positive integer when creating,
   * `NativeUnavailableError` without the native addon.
   */
  constructor(options: SharedMemoryOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const { create = false, size = 0 } = options;
    if (typeof create !== 'boolean')
      throw new TypeError(`Expected \`create\` to be a boolean, got ${describe(create)}`);
    if (!create && options.name === undefined) {
      throw new TypeError("'name' can only be omitted when create is true");
    }
    if (create && (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0)) {
      throw new RangeError(
        `Expected \`size\` to be a positive integer when creating a block, got ${describe(size)}`,
      );
    }
    const native = requireNative();
    this.#native = native;
    const name = options.name === undefined ? defaultName() : checkName(options.name);
    let buffer: ArrayBuffer;
    if (create) {
      try {
        buffer = native.shmCreate(`/${name}`, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw fileExists(name, err);
        throw err;
      }
      try {
        native.shmCommit(buffer, 0, size);
      } catch (err) {
        native.shmUnlink(`/${name}`);
        throw err;
      }
    } else {
      try {
        buffer = native.shmOpen(`/${name}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fileNotFound(name, err);
        throw err;
      }
    }
    this.name = name;
    this.size = buffer.byteLength;
    this.#buf = new Uint8Array(buffer);
  }

  /**
   * The block's bytes, without a copy: a write here is seen by every process that has the block. Throws
   * `TypeError` after `close()` (Python's `buf` is then `None`).
   */
  get buf(): Uint8Array {
    if (this.#buf === null) throw new TypeError(`SharedMemory '${this.name}' is closed: buf is gone`);
    return this.#buf;
  }

  /**
   * Lets go of this object's view of the block (the mapping is released once no view of `buf` is reachable).
   * The block itself stays for the others. Idempotent.
   */
  close(): void {
    this.#buf = null;
  }

  /**
   * Removes the block's name: nobody can attach it any more; those who have it keep it until they let go. Call it
   * once, in one process (normally the creator). Throws `code: 'ENOENT'` when the name is already gone, as Python.
   */
  unlink(): void {
    if (!this.#native.shmUnlink(`/${this.name}`)) throw fileNotFound(this.name, undefined);
  }

  /** `using`: closes (does not unlink) at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal a block travels by name and arrives attached (Python pickles it as its name). */
  [kHandle](): HandleDescriptor {
    return { type: 'SharedMemory', state: { name: this.name } };
  }

  toString(): string {
    return `SharedMemory('${this.name}', size=${this.size})`;
  }

  get [Symbol.toStringTag](): string {
    return 'SharedMemory';
  }
}

registerHandle('SharedMemory', (state: { name: string }) => new SharedMemory({ name: state.name }));
