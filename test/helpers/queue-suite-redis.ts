// Installs the Queue contract suite (queue-suite.ts) over Redis, against a real redis-server started for the file.
// The suite is split across test/queue-redis*.test.ts (one thread; in-process, worker-thread and spawned-process
// peers) so that each file stays within the runner's per-file time limit on a loaded machine.
//
// Skipped with a message when redis-server is missing; required under CI (CI or PROCQ_REQUIRE_REDIS=1).
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { PeerKind } from './peers.js';
import { redisFactory } from './queue-factory.js';
import { installQueueSuite } from './queue-suite.js';
import { type RedisServer, redisSkipReason, startRedis } from './redis-server.js';

export function installRedisQueueSuite(title: string, parts: { local?: boolean; peers: PeerKind[] }): void {
  const skip = redisSkipReason();
  if (skip) {
    it(`${title} (needs redis-server)`, { skip }, () => {});
    return;
  }
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  before(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  after(async () => {
    await admin?.quit();
    await server?.stop();
  });
  describe(title, () => {
    installQueueSuite(
      redisFactory(
        () => server!.url,
        () => admin!,
      ),
      parts,
    );
  });
}
