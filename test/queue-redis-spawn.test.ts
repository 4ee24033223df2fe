// The Queue contract over Redis across spawned-process peers (the queues reach them as Process args and items).
import { installRedisQueueSuite } from './helpers/queue-suite-redis.js';

installRedisQueueSuite('Queue contract over Redis (spawn peers)', { local: false, peers: ['spawn'] });
