// The Queue contract over Redis in one thread: the suite every shared-memory flavour runs (test/helpers/), over a
// real redis-server. Peers: test/queue-redis-{inproc,thread,spawn}.test.ts.
import { installRedisQueueSuite } from './helpers/queue-suite-redis.js';

installRedisQueueSuite('Queue contract over Redis', { peers: [] });
