/**
 * Python's `multiprocessing.connection`, the parts beyond `Pipe`:
 * 1. `socket-connection.ts`  SocketConnection: a Connection over a TCP or unix socket, Python's wire format
 * 2. `challenge.ts`          deliverChallenge / answerChallenge: Python's HMAC authentication, byte for byte
 * 3. `listener.ts`           Listener, Client: connections between programs, over 'AF_INET' or 'AF_UNIX'
 * 4. `wait.ts`               wait / waitSync: the subset of Connections, Queues and Processes that is ready
 */
export { answerChallenge, type ByteConnection, deliverChallenge } from './challenge.js';
export {
  type Address,
  Client,
  type ClientOptions,
  type Family,
  Listener,
  type ListenerOptions,
} from './listener.js';
export { type RecvOptions, SocketConnection } from './socket-connection.js';
export { type Waitable, type WaitForOptions, wait, waitSync } from './wait.js';
