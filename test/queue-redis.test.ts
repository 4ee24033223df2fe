// The Queue contract over Redis: the same suite as shared memory (test/helpers/queue-suite*.ts), in one thread and
// across in-process peers (test/queue-redis-peers.test.ts: worker-thread and spawned-process peers), against a
// real redis-server started for this file.
// The queues reach the peers as handles (a RedisQueue in Process args arrives connected to the same queue). What
// the network changes is stated as capabilities of the factory (test/helpers/queue-factory.ts).
//
// Skipped with a message when redis-server is missing; required under CI (CI or PROCQ_REQUIRE_REDIS=1).
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisFactory } from './helpers/queue-factory.js';
import { installQueueSuite } from './helpers/queue-suite.js';
import { type RedisServer, redisSkipReason, startRedis } from './helpers/redis-server.js';

const skip = redisSkipReason();
let server: RedisServer | undefined;
let admin: Redis | undefined;

if (skip) {
  it('the Queue contract over Redis (needs redis-server)', { skip }, () => {});
} else {
  before(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  after(async () => {
    await admin?.quit();
    await server?.stop();
  });
  describe('Queue contract over Redis', () => {
    installQueueSuite(
      redisFactory(
        () => server!.url,
        () => admin!,
      ),
      { peers: ['inproc'] },
    );
  });
}
