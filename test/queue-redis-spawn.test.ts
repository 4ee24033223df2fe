// The Queue contract over Redis across OS-process peers (the queues reach them as Process args and items); the
// start method is PROCQ_TEST_PROCESS_METHOD's (test/helpers/util.ts).
import { installRedisQueueSuite } from './helpers/queue-suite-redis.js';
import { PROCESS_METHOD } from './helpers/util.js';

installRedisQueueSuite(`Queue contract over Redis (${PROCESS_METHOD} peers)`, {
  local: false,
  peers: [PROCESS_METHOD],
});
