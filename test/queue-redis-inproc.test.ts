// The Queue contract over Redis across in-process peers (other clients in this thread).
import { installRedisQueueSuite } from './helpers/queue-suite-redis.js';

installRedisQueueSuite('Queue contract over Redis (inproc peers)', { local: false, peers: ['inproc'] });
