// The set-up every Pool suite shares (pool.test, pool-chunks.test), installed inside a `describe` per start method.
import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import { activeChildren, Queue, type StartMethod } from '../../src/index.js';
import type { Pool, PoolOptions } from '../../src/pool/index.js';

export interface PoolSuite<W> {
  /** What the fixtures' `park` reports on (where it runs), and waits on for an item before it returns. */
  readonly started: Queue<W>;
  readonly release: Queue<string>;
  /** The suite's pool, for the tests that neither end it nor its workers (made in `before`, 2 workers). */
  readonly pool: Pool;
  /** A pool of 2 workers (with `park`'s queues) that is terminated and joined after the test, whatever happened. */
  newPool(options?: PoolOptions): Pool;
}

/**
 * Registers the suite's hooks: one pool for the suite, the pools a test makes ended after it, and after the suite
 * a check that no worker is left running. `make` is `(options) => new Pool(options)`, written in the test file: a
 * function given to a pool as itself is looked up in the module that makes the pool, so it must be the tests'.
 */
export function poolSuite<W = unknown>(
  method: StartMethod,
  make: (options: PoolOptions) => Pool,
): PoolSuite<W> {
  const started = new Queue<W>();
  const release = new Queue<string>();
  // Named by module: the helper's own imports are not where the pool looks for a function given as itself.
  const keepPeers = { module: new URL('../fixtures/pool-tasks.js', import.meta.url), name: 'keepPeers' };
  const parking = { initializer: keepPeers, initargs: [started, release] };
  const made: Pool[] = [];
  let pool: Pool | undefined;
  const newPool = (options: PoolOptions = {}): Pool => {
    const made1 = make({ processes: 2, startMethod: method, ...parking, ...options });
    made.push(made1);
    return made1;
  };
  before(() => {
    pool = make({ processes: 2, startMethod: method, ...parking });
  });
  afterEach(async () => {
    for (const p of made.splice(0)) {
      p.terminate();
      await p.join();
    }
  });
  after(async () => {
    pool?.terminate();
    await pool?.join();
    assert.deepEqual(
      activeChildren().map((p) => p.name),
      [],
      'the pool tests left workers running',
    );
  });
  return {
    started,
    release,
    newPool,
    get pool(): Pool {
      assert.ok(pool, "the suite's pool is made in before()");
      return pool;
    },
  };
}
