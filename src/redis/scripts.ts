/**
 * The Redis layout of one queue, and the Lua scripts that change it. Every change that must be atomic (check
 * then act) is one script; the only commands outside scripts are the blocking pops (`BLPOP`, `BLMPOP`, `BLMOVE`:
 * a script cannot block) and reads.
 *
 * Keys of a queue named N (prefix `procq:` by default). The `{N}` hash tag puts them all in one cluster slot.
 *
 * ```
 * key                      type  written by                  holds
 * procq:{N}:meta           hash  init, put, shutdown, …      maxsize (fixed at creation), joinable (fixed),
 *                                                            codec ('procq' or 'json', fixed),
 *                                                            state (0 open, 1 shut down: drain, 2 immediate),
 *                                                            unfinished (JoinableQueue: put minus taskDone)
 * procq:{N}:items          list  put (RPUSH), get (LPOP…)    the items, oldest at the head; after shutdown,
 *                                                            one SENTINEL at the tail
 * procq:{N}:putters        zset  put (while Full)            producers waiting for room; score = expiry (ms)
 * procq:{N}:room           list  get (after taking)          wake tokens for waiting producers (BLPOP)
 * procq:{N}:joiners        zset  join                        joiners waiting for unfinished = 0; score = expiry
 * procq:{N}:done           list  taskDone, shutdown          wake tokens for joiners
 * procq:{N}:consumers      set   reliable consumers          their ids
 * procq:{N}:proc:<id>      list  BLMOVE/LMOVE from items     what consumer <id> took and has not acknowledged
 * procq:{N}:alive:<id>     str   heartbeat (SET PX ttl)      consumer <id> is alive while this key exists
 * ```
 *
 * Invariants:
 * - `meta` exists from `connect` until `destroy`; every script answers -2 (gone) without it and writes nothing.
 * - maxsize > 0: a put pushes only while LLEN(items) < maxsize (checked in the same script). Items recovered from a
 *   dead consumer, or given back by an aborted get, go back to the head even past maxsize (they were counted
 *   when first put).
 * - state != 0: puts push nothing; exactly one SENTINEL is in `items`, at the tail (nothing is pushed after it
 *   but items given back to the head). A blocking pop that takes it puts it back (`sentinel`), so every blocked
 *   getter wakes in turn, and getters drain the items ahead of it first: Python 3.13's shutdown, across clients.
 * - Lost wake-up guard for waiting producers: the put script that finds the queue full registers the producer in
 *   `putters` in the same atomic step; every take (script `get`, or `wake` right after a blocking pop) pushes a
 *   token for the registered producers. A producer that registered before a take gets a token; one that checks
 *   after it sees the room. Registrations expire, so a crashed producer costs spurious tokens at most, bounded by
 *   the number of registered producers. Joiners use the same scheme with `joiners` and `done`.
 */
import { crypto } from '../builtins.js';

/**
 * Ends the items once the queue is shut down. Starts with a NUL byte, which no item tag is (`items.ts`).
 * Written `\0` in Lua, which is Lua 5.1's decimal escape for the NUL byte.
 */
export const SENTINEL = Buffer.from('\0procq:shutdown', 'latin1');

export interface Keys {
  /** `procq:{N}`: the other keys and the per-consumer ones are this plus a suffix. */
  readonly base: string;
  readonly meta: string;
  readonly items: string;
  readonly putters: string;
  readonly room: string;
  readonly joiners: string;
  readonly done: string;
  readonly consumers: string;
}

export function keysOf(prefix: string, name: string): Keys {
  const base = `${prefix}{${name}}`;
  return {
    base,
    meta: `${base}:meta`,
    items: `${base}:items`,
    putters: `${base}:putters`,
    room: `${base}:room`,
    joiners: `${base}:joiners`,
    done: `${base}:done`,
    consumers: `${base}:consumers`,
  };
}

export const procKey = (k: Keys, id: string): string => `${k.base}:proc:${id}`;
export const aliveKey = (k: Keys, id: string): string => `${k.base}:alive:${id}`;

/** Script answers. */
export const SHUT = -1;
export const GONE = -2;
export const TOO_MANY_DONE = -3;

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

const PRELUDE = `
local S = '\\0procq:shutdown'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Pushes up to k wake tokens onto list 'tokens' for the unexpired waiters registered in zset 'waiters'.
local function wake(tokens, waiters, k)
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now_ms())
  local add = math.min(k, redis.call('ZCARD', waiters) - redis.call('LLEN', tokens))
  for i = 1, add do redis.call('RPUSH', tokens, 1) end
end
local function register(waiters, member, wait_ms)
  redis.call('ZADD', waiters, now_ms() + wait_ms, member)
end
local function ensure_sentinel(items)
  if not redis.call('LPOS', items, S) then redis.call('RPUSH', items, S) end
end
`;

function script(name: string, body: string): Script {
  const source = PRELUDE + body;
  let sha: string | undefined;
  // Hashed on first use: every process that imports procq loads this module, few of them talk to Redis.
  return {
    name,
    source,
    get sha() {
      return (sha ??= crypto().createHash('sha1').update(source).digest('hex'));
    },
  };
}

/**
 * KEYS: meta. ARGV: maxsize ('' to adopt the existing one), joinable ('1'/'0'), codec ('procq'/'json').
 * Creates the queue when missing. Returns { created, maxsize, joinable, codec }.
 */
export const INIT = script(
  'init',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local m = ARGV[1] == '' and '0' or ARGV[1]
  redis.call('HSET', KEYS[1], 'maxsize', m, 'joinable', ARGV[2], 'state', 0, 'unfinished', 0, 'codec', ARGV[3])
  return { 1, m, ARGV[2], ARGV[3] }
end
local cfg = redis.call('HMGET', KEYS[1], 'maxsize', 'joinable', 'codec')
return { 0, cfg[1], cfg[2], cfg[3] or 'procq' }
`,
);

/**
 * KEYS: items, meta, putters. ARGV: waiter member ('' = do not register), registration lifetime (ms), values…
 * Pushes as many values as there is room for, in order. Returns how many, SHUT or GONE. When room ran out
 * before the last value and a member was given, the producer is registered as waiting (in the same atomic step:
 * the lost wake-up guard). A member given is first unregistered.
 */
export const PUT = script(
  'put',
  `
local cfg = redis.call('HMGET', KEYS[2], 'maxsize', 'state', 'joinable')
if not cfg[1] then return -2 end
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[3], ARGV[1]) end
if cfg[2] ~= '0' then return -1 end
local maxsize = tonumber(cfg[1])
local n = #ARGV - 2
if maxsize > 0 then
  local room = math.max(0, maxsize - redis.call('LLEN', KEYS[1]))
  if room < n then
    n = room
    if ARGV[1] ~= '' then register(KEYS[3], ARGV[1], tonumber(ARGV[2])) end
  end
end
for i = 3, 2 + n, 4000 do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 3999, 2 + n)))
end
if cfg[3] == '1' and n > 0 then redis.call('HINCRBY', KEYS[2], 'unfinished', n) end
return n
`,
);

/**
 * KEYS: items, meta, putters, room, proc. ARGV: max, reliable ('1': move into proc instead of popping).
 * Takes up to max items without waiting, wakes as many waiting producers. Returns { status, values… }:
 * status 0 (values may be none: empty), SHUT (shut down and drained), GONE.
 */
export const GET = script(
  'get',
  `
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return { -2 } end
local max = tonumber(ARGV[1])
local out = { 0 }
local sentinel = false
if ARGV[2] == '1' then
  for i = 1, max do
    local v = redis.call('LMOVE', KEYS[1], KEYS[5], 'LEFT', 'RIGHT')
    if not v then break end
    if v == S then
      redis.call('RPOP', KEYS[5])
      sentinel = true
      break
    end
    out[#out + 1] = v
  end
else
  local vs = redis.call('LPOP', KEYS[1], max)
  if vs then
    for _, v in ipairs(vs) do
      if v == S then sentinel = true else out[#out + 1] = v end
    end
  end
end
if sentinel then redis.call('RPUSH', KEYS[1], S) end
local n = #out - 1
if n > 0 then
  if tonumber(redis.call('HGET', KEYS[2], 'maxsize')) > 0 then wake(KEYS[4], KEYS[3], n) end
  return out
end
if state ~= '0' then
  ensure_sentinel(KEYS[1])
  out[1] = -1
end
return out
`,
);

/** KEYS: room, putters. ARGV: k. After a blocking pop took k items: wakes up to k waiting producers. */
export const WAKE = script('wake', 'wake(KEYS[1], KEYS[2], tonumber(ARGV[1]))\nreturn 1');

/** KEYS: items, proc. ARGV: reliable. A blocking pop took the SENTINEL: put it back for the next getter. */
export const REPLACE_SENTINEL = script(
  'sentinel',
  `
if ARGV[1] == '1' then redis.call('LREM', KEYS[2], -1, S) end
ensure_sentinel(KEYS[1])
return 1
`,
);

/**
 * KEYS: items, proc. ARGV: reliable, values… (oldest first). An aborted get gives back what its blocking pop
 * took: to the head, in order, as if it had never been taken.
 */
export const RESTORE = script(
  'restore',
  `
local s = false
for i = #ARGV, 2, -1 do
  local v = ARGV[i]
  if ARGV[1] == '1' then redis.call('LREM', KEYS[2], -1, v) end
  if v == S then s = true else redis.call('LPUSH', KEYS[1], v) end
end
if s then ensure_sentinel(KEYS[1]) end
return 1
`,
);

/**
 * KEYS: items, proc. ARGV: keep. A reliable consumer with no take in flight and `keep` items unacknowledged gives
 * back what its processing list holds beyond them: items a take moved there whose reply never reached it (a
 * connection that dropped or timed out mid-command). They go to the head of the items, oldest first.
 */
export const RECLAIM = script(
  'reclaim',
  `
local keep = tonumber(ARGV[1])
local extra = redis.call('LRANGE', KEYS[2], keep, -1)
if #extra == 0 then return 0 end
if keep > 0 then redis.call('LTRIM', KEYS[2], 0, keep - 1) else redis.call('DEL', KEYS[2]) end
local s = false
for i = #extra, 1, -1 do
  if extra[i] == S then s = true else redis.call('LPUSH', KEYS[1], extra[i]) end
end
if s then ensure_sentinel(KEYS[1]) end
return #extra
`,
);

/**
 * KEYS: items, meta, putters, room, joiners, done. ARGV: immediate ('1'/'0').
 * Shuts the queue down (state 1, or 2 discarding the items), places the SENTINEL, wakes every waiting producer
 * (and, when immediate leaves nothing unfinished, every joiner).
 */
export const SHUTDOWN = script(
  'shutdown',
  `
local cfg = redis.call('HMGET', KEYS[2], 'state', 'joinable', 'unfinished')
if not cfg[1] then return -2 end
if ARGV[1] == '1' then
  local n = redis.call('LLEN', KEYS[1])
  if n > 0 and redis.call('LPOS', KEYS[1], S) then n = n - 1 end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'state', 2)
  if cfg[2] == '1' and n > 0 then
    local u = math.max(0, tonumber(cfg[3]) - n)
    redis.call('HSET', KEYS[2], 'unfinished', u)
    if u == 0 then wake(KEYS[6], KEYS[5], 1e9) end
  end
elseif cfg[1] == '0' then
  redis.call('HSET', KEYS[2], 'state', 1)
end
ensure_sentinel(KEYS[1])
wake(KEYS[4], KEYS[3], 1e9)
return 1
`,
);

/** KEYS: items, meta. Returns { qsize, maxsize, state, unfinished } or { GONE }. */
export const STATUS = script(
  'status',
  `
local cfg = redis.call('HMGET', KEYS[2], 'maxsize', 'state', 'unfinished')
if not cfg[1] then return { -2 } end
local n = redis.call('LLEN', KEYS[1])
if n > 0 and cfg[2] ~= '0' and redis.call('LINDEX', KEYS[1], -1) == S then n = n - 1 end
return { n, tonumber(cfg[1]), tonumber(cfg[2]), tonumber(cfg[3]) }
`,
);

/**
 * KEYS: meta, joiners, done, proc. ARGV: value to acknowledge ('' none), count ('1': JoinableQueue).
 * Returns the unfinished count left, TOO_MANY_DONE (nothing changed), or GONE. A task is counted done once: by the
 * consumer that holds it in its processing list when it acknowledges.
 */
export const TASK_DONE = script(
  'taskDone',
  `
local u = redis.call('HGET', KEYS[1], 'unfinished')
if not u then return -2 end
u = tonumber(u)
if ARGV[2] == '1' and u <= 0 then return -3 end
if ARGV[1] ~= '' and redis.call('LREM', KEYS[4], 1, ARGV[1]) == 0 then
  -- Not ours any more: our heartbeat lapsed and the task went back to the queue (or to another consumer), whose
  -- taskDone will count it. Counting it here too would let join() return while that copy is still being done.
  return u
end
if ARGV[2] ~= '1' then return u end
u = redis.call('HINCRBY', KEYS[1], 'unfinished', -1)
if u == 0 then wake(KEYS[3], KEYS[2], 1e9) end
return u
`,
);

/**
 * KEYS: meta, joiners. ARGV: member, registration lifetime (ms).
 * Returns the unfinished count; when it is above 0, the joiner is registered (lost wake-up guard, as for puts).
 */
export const JOIN = script(
  'join',
  `
local u = redis.call('HGET', KEYS[1], 'unfinished')
if not u then return -2 end
u = tonumber(u)
if u <= 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
register(KEYS[2], ARGV[1], tonumber(ARGV[2]))
return u
`,
);

/** KEYS: meta, joiners. ARGV: member. */
export const UNREGISTER = script('unregister', "redis.call('ZREM', KEYS[2], ARGV[1])\nreturn 1");

/**
 * KEYS: meta, consumers, alive. ARGV: consumer id, heartbeat ttl (ms).
 * Registers a reliable consumer, or refreshes its heartbeat. GONE (and no key written) once the queue is destroyed.
 */
export const HEARTBEAT = script(
  'heartbeat',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
redis.call('SET', KEYS[3], 1, 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`,
);

/**
 * KEYS: items, meta, consumers, joiners, done. ARGV: base, consumer id ('' = every consumer whose heartbeat has
 * expired).
 * Puts what those consumers took and never acknowledged back at the head of the items, oldest first, and forgets
 * them (after an immediate shutdown, discards it instead). Keys built from base share the hash tag. Returns how
 * many items went back.
 */
export const RECOVER = script(
  'recover',
  `
local cfg = redis.call('HMGET', KEYS[2], 'state', 'joinable', 'unfinished')
if not cfg[1] then return -2 end
local ids = ARGV[2] ~= '' and { ARGV[2] } or redis.call('SMEMBERS', KEYS[3])
local moved, dropped, lost = 0, 0, false
for _, id in ipairs(ids) do
  local alive = ARGV[1] .. ':alive:' .. id
  if ARGV[2] ~= '' or redis.call('EXISTS', alive) == 0 then
    local proc = ARGV[1] .. ':proc:' .. id
    local vs = redis.call('LRANGE', proc, 0, -1)
    redis.call('DEL', proc, alive)
    redis.call('SREM', KEYS[3], id)
    for i = #vs, 1, -1 do
      if vs[i] == S then lost = true
      elseif cfg[1] == '2' then dropped = dropped + 1
      else
        redis.call('LPUSH', KEYS[1], vs[i])
        moved = moved + 1
      end
    end
  end
end
if lost and cfg[1] ~= '0' then ensure_sentinel(KEYS[1]) end
if dropped > 0 and cfg[2] == '1' then
  local u = math.max(0, tonumber(cfg[3]) - dropped)
  redis.call('HSET', KEYS[2], 'unfinished', u)
  if u == 0 then wake(KEYS[5], KEYS[4], 1e9) end
end
return moved
`,
);

/** KEYS: items, meta, putters, room, joiners, done, consumers. ARGV: base. Deletes every key of the queue. */
export const DESTROY = script(
  'destroy',
  `
for _, id in ipairs(redis.call('SMEMBERS', KEYS[7])) do
  redis.call('DEL', ARGV[1] .. ':proc:' .. id, ARGV[1] .. ':alive:' .. id)
end
return redis.call('DEL', unpack(KEYS))
`,
);
