// The Queue contract over Redis across worker-thread peers (the queues reach them as Process args and items).
import { installRedisQueueSuite } from './helpers/queue-suite-redis.js';

installRedisQueueSuite('Queue contract over Redis (thread peers)', { local: false, peers: ['thread'] });
