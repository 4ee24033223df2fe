// What the Queue contract suite runs over: a factory of queues plus the capabilities of its transport. The suite
// (queue-suite*.ts) is written once against `QueueLike`/`JoinableQueueLike`; each difference a transport forces is
// a capability here, read by the few tests it concerns, never a separate suite.
//
// - shared memory (`shmFactory('shm')`): threads and spawned processes; `new Queue(...)` is synchronous.
// - SharedArrayBuffer (`shmFactory('sab')`): the thread-only fallback without the native addon.
// - Redis (`redisFactory(...)`): every queue is a network client (`await RedisQueue.connect(...)`); the sync forms
//   block on a helper thread's round trip; a queue reaches threads and processes as a handle that connects again.
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { Codec } from '../../src/codec/frames.js';
import { JoinableQueue, type JoinableQueueLike, Queue, type QueueLike } from '../../src/index.js';
import { connectQueue, type RedisQueue } from '../../src/redis/index.js';
import { PROCESS_METHOD } from './util.js';

export type SegmentKind = 'shm' | 'sab';

export interface QueueMakeOptions<T> {
  /** Shared memory only: the ring's starting size (ignored by transports without a ring). */
  capacityBytes?: number;
  codec?: Codec<T>;
}

export interface Capabilities {
  /** Making a queue is a network connect (async); false: a constructor. */
  readonly asyncConnect: boolean;
  /** The `…Sync` forms, `qsize()` and `shutdown()` are round trips through a helper thread (a network client). */
  readonly syncViaHelperThread: boolean;
  /** `qsize()` is read from shared memory at the instant of the call; false: exact when the server answers. */
  readonly qsizeFromMemory: boolean;
  /** Start methods a queue reaches as a `Process` argument. */
  readonly startMethods: ReadonlyArray<'thread' | 'spawn' | 'forkserver'>;
  /** A queue inside an item of a queue of this transport arrives attached. */
  readonly handlesInItems: boolean;
  /** A queue made with a custom codec travels (the receiver re-attaches the codec with `withCodec`). */
  readonly codecTravels: boolean;
}

export interface QueueFactory {
  /** In test names: 'shm', 'sab', 'redis'. */
  readonly label: string;
  /** The shared-memory segment kind, for the tests of the ring itself; undefined for a network transport. */
  readonly segment: SegmentKind | undefined;
  readonly caps: Capabilities;
  queue<T>(maxsize?: number, options?: QueueMakeOptions<T>): Promise<QueueLike<T>>;
  joinable<T>(maxsize?: number, options?: QueueMakeOptions<T>): Promise<JoinableQueueLike<T>>;
  /** A second, independent handle (client) on the same queue. */
  reopen<T>(q: QueueLike<T>): Promise<QueueLike<T>>;
  /** After each test: closes what the test opened; fails when the transport keeps anything of it. */
  cleanup(): Promise<void>;
}

export function shmFactory(segment: SegmentKind): QueueFactory {
  return {
    label: segment,
    segment,
    caps: {
      asyncConnect: false,
      syncViaHelperThread: false,
      qsizeFromMemory: true,
      startMethods: segment === 'shm' ? ['thread', PROCESS_METHOD] : ['thread'],
      handlesInItems: segment === 'shm',
      codecTravels: true,
    },
    async queue<T>(maxsize?: number, options?: QueueMakeOptions<T>) {
      return new Queue<T>(maxsize, options);
    },
    async joinable<T>(maxsize?: number, options?: QueueMakeOptions<T>) {
      return new JoinableQueue<T>(maxsize, options);
    },
    async reopen<T>(q: QueueLike<T>) {
      // Through an item: a handle attached to the same memory.
      const carrier = new Queue<QueueLike<T>>();
      carrier.putNowait(q);
      return carrier.getNowait();
    },
    async cleanup() {},
  };
}

/**
 * Queues on a real redis-server (`url()` is read at each call: the server starts in a `before` hook). Every queue
 * has a fresh name under `prefix`; `cleanup()` closes every client, destroys the queues and fails when a key is left.
 */
export function redisFactory(url: () => string, admin: () => Redis): QueueFactory {
  const prefix = `procq-suite-${process.pid}:`;
  let count = 0;
  const opened: RedisQueue<any>[] = [];
  const codecs = new Map<string, Codec<any> | undefined>();
  const connect = async <T>(
    name: string,
    o: QueueMakeOptions<T> & { joinable?: boolean; maxsize?: number },
  ) => {
    const options = { prefix, codec: o.codec, maxsize: o.maxsize };
    const q = o.joinable
      ? await connectQueue<T>(url(), name, { ...options, joinable: true })
      : await connectQueue<T>(url(), name, options);
    opened.push(q);
    codecs.set(name, o.codec);
    return q;
  };
  const fresh = <T>(maxsize: number | undefined, o: QueueMakeOptions<T> | undefined, joinable: boolean) =>
    connect<T>(`q${++count}`, { codec: o?.codec, joinable, maxsize });
  return {
    label: 'redis',
    segment: undefined,
    caps: {
      asyncConnect: true,
      syncViaHelperThread: true,
      qsizeFromMemory: false,
      startMethods: ['thread', PROCESS_METHOD],
      handlesInItems: true,
      codecTravels: false,
    },
    queue: (maxsize, options) => fresh(maxsize, options ?? {}, false),
    joinable: (maxsize, options) => fresh(maxsize, options ?? {}, true) as any,
    async reopen<T>(q: QueueLike<T>) {
      const r = q as unknown as RedisQueue<T>;
      return connect<T>(r.name, {
        joinable: Object.prototype.toString.call(r) === '[object RedisJoinableQueue]',
      });
    },
    async cleanup() {
      const names = new Set(opened.map((q) => q.name));
      for (const q of opened.splice(0)) {
        q.close();
        await q.joinThread();
      }
      for (const name of names) {
        const q = await connectQueue(url(), name, { prefix, codec: codecs.get(name) });
        await q.destroy();
        q.close();
        await q.joinThread();
      }
      codecs.clear();
      assert.deepEqual(await admin().keys(`${prefix}*`), [], 'Redis keys left behind by the test');
    },
  };
}
