/**
 * The shared-memory layout of a queue: one header of 32-bit words, then the ring's data region.
 *
 * ```
 *  word  name          written by                       guarded by / how
 *  ----  ------------  -------------------------------  -----------------------------------------------
 *        line 0: set at creation or changed rarely, read by every operation
 *   0    MAGIC         creator                          never changes after creation (the layout's version)
 *   1    MAXSIZE       creator                          never changes (0: no bound on the item count)
 *   2    CAP_MAX       creator                          never changes: bytes reserved for the data region
 *   3    CAP           producer that grows the ring     producer lock AND consumer lock (power of two)
 *   4    SHUTDOWN      anyone: 0 open, 1 shut down, 2 shut down immediately   atomic store, then wake all
 *   5    BROKEN        whoever finds an invariant broken  CAS 0 -> reason (first wins), never back to 0
 *   6    CAP_INIT      creator                          never changes: the CAP a drained ring falls back to
 *   8    ATTACHED      threads/processes attached (informative)
 *        line 1: the producers' own words
 *  16    P_LOCK        producers: owner id or 0         CAS; see lock.ts
 *  17    P_LOCK_START  the producer lock's holder       its start time while it holds P_LOCK (wait/owner-word.ts)
 *  18    P_INTENT_TAIL producer's commit journal        producer lock (-1: no commit in flight)
 *  19    P_INTENT_CNT  producer's commit journal        producer lock
 *  20    P_BLOCK       producer                         producer lock: the block it writes in (0: the ring)
 *  21    P_BLOCK_POS   producer                         producer lock: the published end of the frames in P_BLOCK
 *  22    P_SEQ         producer, before creating a block  producer lock: the last number given to a block
 *  23-25 P_INTENT_BLOCK, _BPOS, _LINKED   producer's journal of P_BLOCK, P_BLOCK_POS, P_LINKED (-1: unchanged)
 *  26    P_LOCK_WAIT   producers sleeping on P_LOCK     atomic add/sub
 *  27    GREW_AT       producer that grows the ring,    producer lock (a shrink holds both): when the ring last grew
 *                      or needs more than CAP_INIT      or a reserve needed more than CAP_INIT (wall clock, 1/10 s, wraps)
 *        line 2: what producers publish
 *  32    TAIL          producer                         producer lock; read by producers only
 *  33    PUT_COUNT     producer (the publish point)     producer lock; consumers and getters wait on it
 *  34    P_LINKED      producer (with the publish)      producer lock: the last number published in a LINK/NEXT
 *        line 3: the consumers' own words
 *  48    C_LOCK        consumers: owner id or 0         CAS; see lock.ts
 *  49    C_LOCK_START  the consumer lock's holder       its start time while it holds C_LOCK
 *  50    C_INTENT_HEAD consumer's commit journal        consumer lock (-1: no commit in flight)
 *  51    C_INTENT_CNT  consumer's commit journal        consumer lock
 *  52    C_BLOCK       consumer                         consumer lock: the block it reads in (0: the ring)
 *  53    C_BLOCK_POS   consumer                         consumer lock: where its next frame starts in C_BLOCK
 *  54    C_DONE        consumer (with the take)         consumer lock: the last block the consumer has left
 *  55    C_FREED       consumer, after removing blocks  consumer lock: the last block removed
 *  56-58 C_INTENT_BLOCK, _BPOS, _DONE     consumer's journal of C_BLOCK, C_BLOCK_POS, C_DONE (-1: unchanged)
 *  59    C_LOCK_WAIT   consumers sleeping on C_LOCK     atomic add/sub
 *        line 4: what consumers publish
 *  64    HEAD          consumer                         consumer lock; read by producers (free space)
 *  65    GET_COUNT     consumer (the take point)        consumer lock; putters wait on it
 *        lines 5-7: waiting getters, putters, joiners
 *  80    GET_WAIT      getters sleeping on GET_EPOCH    atomic add/sub
 *  81    GET_EPOCH     bumped to wake getters: by a publish that sees GET_WAIT > 0, by shutdown, by recovery
 *  82    GET_PARKED    getters asleep in the kernel     atomic add/sub around the compare-and-sleep (wait/park.ts)
 *  83    GET_PARK_SEQ  getters' sleeps started          getter: +1 after GET_PARKED's +1, before it sleeps (wait/park.ts)
 *  84    GET_WOKE_SEQ  every getter sleep up to it woken  waker: GET_PARK_SEQ as read before a wake that woke them all
 *  96    PUT_WAIT      putters sleeping on PUT_EPOCH    atomic add/sub
 *  97    PUT_EPOCH     bumped to wake putters: by a take that sees PUT_WAIT > 0, by shutdown, by recovery
 *  98    PUT_PARKED    putters asleep in the kernel     atomic add/sub around the compare-and-sleep
 * 112    DONE          taskDone() +1; an immediate shutdown adds what it discards   CAS; joiners sleep on it
 * 113    JOIN_WAIT     joiners sleeping on DONE         atomic add/sub
 * 128..207 owner slots of the *_WAIT adverts (wait/advert.ts), one line each: which thread each advertisement
 *        belongs to, so that one left by a waiter killed in its sleep is withdrawn
 *  ...   reserved up to HEADER_BYTES
 * ```
 *
 * Cache lines: a word written on every operation shares its 64-byte line only with words written by the same side
 * at the same time, so a producer and a consumer on two cores do not take each other's lines on every lock, journal
 * and count store (false sharing). Each side writes its own line (lock, journal) and one line it publishes to the
 * other (TAIL and PUT_COUNT; HEAD and GET_COUNT); only the published lines travel between cores. Measured with two
 * processes putting and taking 12-byte strings: 0.92 -> 0.75 us of CPU per item and side, 1.0 -> 1.25 M items/s.
 * (Chain words that are not read by the other side sit on the private lines.)
 *
 * Positions (HEAD, TAIL) are logical byte offsets that wrap at 2^32; the byte at logical position p lives at
 * data offset `p & (CAP - 1)`. Frames are 8-byte aligned: `[u32 length][u32 check | tag][payload, padded to 8]`.
 * The tag is the low byte of the second word; the upper 24 bits are a check of (position, length, tag)
 * (`frameCheck`), so a frame header that was overwritten, or a stale one at a position it was not written for,
 * is recognised. A frame never straddles the end of the data region; when one does not fit, the producer writes
 * a WRAP frame whose length field is the number of bytes to skip (to a multiple of the CAP it was written under).
 *
 * Validation: every operation checks the header words of line 0 and of its own side (MAGIC, MAXSIZE, CAP_MAX, CAP a
 * power of two within bounds, SHUTDOWN in 0..2, its own position 8-aligned, no journal left set under a held lock,
 * its chain words); each time a side reads the other side's published line again (Cached positions, below) it
 * checks it against its own (HEAD and TAIL 8-aligned and at most CAP apart, `0 <= PUT_COUNT - GET_COUNT`, at most
 * MAXSIZE, and for a consumer `<= (TAIL - HEAD) / 8`); a consumer checks each frame it reads (check bits, known
 * tag, a length that fits the tag, inside [HEAD, the TAIL it read] and before the end of the region). A violation
 * stores a reason in BROKEN and wakes everyone; from then on every call on the queue, in every process, fails with
 * the same InvariantError (ring.ts: `brokenError`). Payload bytes carry no check: only their decoding is checked.
 *
 * Invariants (between operations; each step below keeps them):
 * - `0 <= TAIL - HEAD <= CAP` (u32 arithmetic), and the bytes in [HEAD, TAIL) are whole, published frames.
 * - `PUT_COUNT - GET_COUNT` is the number of item frames in [HEAD, TAIL): exactly `qsize()`.
 * - A producer writes the whole frame, then journals (P_INTENT_*), then moves TAIL, then PUT_COUNT (the publish
 *   point), then clears the journal. A consumer copies the whole frame out, then journals (C_INTENT_*), then moves
 *   HEAD, then GET_COUNT, then clears the journal. A lock taken over from a dead owner replays a journal left set,
 *   so a process killed at any instant leaves neither a torn frame nor a count that disagrees with the frames.
 * - CAP changes only with both locks held, by relocating the live bytes so every logical position keeps its
 *   frame (growing from C to 2C moves the bytes whose position has bit C set up by exactly C, into bytes that were
 *   unused). The new CAP is stored after the copy: a producer killed half-way leaves the old layout intact.
 * - CAP shrinks back to CAP_INIT only with both locks held and the ring empty (HEAD = TAIL, PUT_COUNT =
 *   GET_COUNT, no batch open: the producer lock is held), at least SHRINK_AFTER_MS after the last growth or the
 *   last reserve that CAP_INIT bytes could not have held (GREW_AT): so a ring that drains between large items, or
 *   a backlog that keeps coming back, does not pay a grow, its page commits and faults, and a shrink each time. CAP is stored first, then the
 *   pages past the new end are given back (`Segment.release`): a process killed in between leaves memory
 *   committed, never a layout in use over released pages. Growing commits its pages again before touching them.
 * - Waiting: a waiter adds itself to its *_WAIT word, reads the epoch it will sleep on, re-checks its condition
 *   ("has the queue become ready just now?"), then sleeps on the epoch, passing the value it read. A notifier
 *   changes the state (PUT_COUNT, GET_COUNT, SHUTDOWN) first, then, only if the *_WAIT word is non-zero, bumps the
 *   epoch and wakes. Sequentially consistent atomics on both sides mean either the waiter's re-check sees the
 *   change or the notifier sees the waiter; a bumped epoch makes the compare-and-sleep (futex / Atomics.wait)
 *   return at once, closing the window between the re-check and the sleep. The epoch, not the state word, is what
 *   is slept on because some wake-ups (shutdown) change no counter. A notifier that, after bumping the epoch, reads
 *   0 in the matching *_PARKED word skips the futex wake: nobody is asleep, and a waiter about to sleep compares
 *   against the bumped epoch (a waiter killed asleep leaves *_PARKED raised: wake calls for nobody, never a loss).
 *   Getters also count their sleeps (GET_PARK_SEQ) and a wake that woke every parked getter records the count it
 *   read (GET_WOKE_SEQ): a publisher that reads the two equal skips the futex wake, though woken getters that have
 *   not run yet still hold GET_PARKED up (wait/park.ts has the argument).
 * - Cached positions (the cached-index trick of rigtorp's SPSCQueue and crossbeam's array channel, under the
 *   locks): each handle keeps a view of the other side's published line, read at some earlier instant: a producer
 *   HEAD and GET_COUNT (GET_COUNT read first), a consumer PUT_COUNT then TAIL. All four only move forward (a
 *   realign moves HEAD and TAIL forward together; recovery replays forward; growing and shrinking keep positions),
 *   so a view is never ahead of the truth and can only under-estimate room (producer: `TAIL - HEAD` and
 *   `PUT_COUNT - GET_COUNT` over-counted) or items (consumer: PUT_COUNT under-counted, and every frame it counts
 *   lies before the TAIL read after it). A side reads the line again only when its view says full (no room for the
 *   frame, or MAXSIZE items) or empty, and before any step that needs the true free space (growing, realigning,
 *   spilling, leaving a block, stamping GREW_AT), so the other side's line travels between cores about once per
 *   ring's worth of items instead of on every operation. A view is dropped when a handle takes its lock and finds
 *   its own side's published words (TAIL and PUT_COUNT; HEAD and GET_COUNT) other than it left them: another
 *   producer or consumer, a realign, or a recovery ran in between (so, with several producers, a view is used only
 *   while the same handle keeps the lock, and distances stay below 2^31: no wrap-around can make a stale value
 *   look ahead). A put that found no room waits for GET_COUNT to differ from the view's, which was read no later
 *   than the HEAD that showed no room.
 * - Putters of a bounded queue wait for room with hysteresis: a putter that found the queue full sleeps until it
 *   holds at most `putterLowWater(MAXSIZE)` items (or, after a slice, until it is not full), and a take wakes
 *   putters only when, read after its GET_COUNT store, the queue holds at most that many (or the ring is at its
 *   largest, where putters may also wait for bytes). The last take before a state with room is such a take.
 * - A frame of PACE_FRAME bytes or more (ring.ts) does not grow a ring that already holds PACE_FRAMES of its size
 *   while HEAD keeps moving: the producer waits for room instead (briefly, holding the producer lock; a consumer
 *   that stops for a few milliseconds lets it grow as before). So a stream of large items keeps a few of them in
 *   flight, each side copying one while the other copies the next, in memory both processes have already touched.
 * - Overflow blocks (crossbeam's list channel). A reserve leaves LINK_ROOM (8 bytes) free after every item, so a
 *   LINK frame always fits. When the ring is at its largest and has no room for a frame (after waiting a little,
 *   holding the producer lock, for a consumer that keeps moving HEAD: ring.ts `#roomSoon`), the producer sets P_SEQ
 *   to a new number, creates the block (all committed: a full /dev/shm is SharedMemoryFull at the put, nothing
 *   written), writes a LINK frame (length = the block's number) at the ring's tail, and the item in the block. A
 *   full block gets a NEXT frame to a new one; an item larger than a block gets a block of its own. The producer
 *   goes back to the ring with a BACK frame once the ring would stay half free: the frames after that BACK are
 *   the ring's frames after the LINK, so the order of items is the order of frames, ring -> block -> ring.
 *   Control frames are always published together with the item after them. The publish journals the block words
 *   with TAIL (P_INTENT_BLOCK written before P_INTENT_TAIL and cleared before it), and stores them before
 *   PUT_COUNT. A consumer follows LINK, NEXT and BACK frames while it looks for its next item, and its take
 *   journals and stores C_BLOCK, C_BLOCK_POS and C_DONE with HEAD; after the take it removes the blocks it has left,
 *   (C_FREED, C_DONE] (name unlinked, pages given back at once), then stores C_FREED.
 * - Blocks are linked in the order of their numbers and read in that order, so every linked block numbered up to
 *   C_DONE has been read to its exit frame. Between operations: P_SEQ = P_LINKED, P_BLOCK is 0 or P_LINKED,
 *   C_FREED = C_DONE, no block journal set. A dead producer's take-over replays its journal, then removes the
 *   blocks numbered (P_LINKED, P_SEQ] (created, never published) and sets P_SEQ back; a dead consumer's replays its
 *   journal, then removes (C_FREED, C_DONE]. So a process killed at any instant (creating, filling, linking,
 *   publishing, reading, removing a block) leaves no torn or duplicated item, loses at most the item a consumer had
 *   taken, and leaks no block once the next operation (or the tree's tracker) has run.
 * - PUT_COUNT - GET_COUNT counts items wherever they live (`qsize()` stays exact); the bound `items <= bytes / 8`
 *   holds only while no linked block is unread (C_BLOCK = 0 and P_LINKED = C_DONE), and is checked only then.
 * - A drained queue whose producer still writes in a block gives it back (`dropDrainedChain`, both locks held, with
 *   the ring's shrink): the producer leaves it with a BACK frame (a publish), the consumer follows it (a take),
 *   which removes the block.
 * - The unfinished tasks of a JoinableQueue are `PUT_COUNT - DONE`: counted by the publish itself, so a producer
 *   killed at any instant cannot leave a task counted that no consumer will ever see.
 * - Sleeps are sliced (100 ms): a peer killed after changing the state but before waking leaves its waiters
 *   late, never stuck; so does a woken waiter killed before it took what it was woken for (a publish wakes one
 *   getter per item, a take one putter per item). A killed sleeper leaves its *_WAIT advertisement behind; that costs its peers a futex wake
 *   per operation (speed, never correctness).
 */

/** 'prq2': the layout with a cache line per side (a queue of the older layout, 'proq', is not attached). */
export const MAGIC_VALUE = 0x70727132;

// Line 0 (words 0-15): set at creation or changed rarely; read by every operation.
export const MAGIC = 0;
export const MAXSIZE = 1;
export const CAP_MAX = 2;
export const CAP = 3;
export const SHUTDOWN = 4;
export const BROKEN = 5;
export const CAP_INIT = 6;
export const ATTACHED = 8;
// Line 1 (16-31): the producers' own words (lock, journal, chain state), read by consumers only in recovery.
export const P_LOCK = 16;
export const P_LOCK_START = 17;
export const P_INTENT_TAIL = 18;
export const P_INTENT_CNT = 19;
export const P_BLOCK = 20;
export const P_BLOCK_POS = 21;
export const P_SEQ = 22;
export const P_INTENT_BLOCK = 23;
export const P_INTENT_BPOS = 24;
export const P_INTENT_LINKED = 25;
export const P_LOCK_WAIT = 26;
export const GREW_AT = 27;
// Line 2 (32-47): what producers publish to consumers.
export const TAIL = 32;
export const PUT_COUNT = 33;
export const P_LINKED = 34;
// Line 3 (48-63): the consumers' own words.
export const C_LOCK = 48;
export const C_LOCK_START = 49;
export const C_INTENT_HEAD = 50;
export const C_INTENT_CNT = 51;
export const C_BLOCK = 52;
export const C_BLOCK_POS = 53;
export const C_DONE = 54;
export const C_FREED = 55;
export const C_INTENT_BLOCK = 56;
export const C_INTENT_BPOS = 57;
export const C_INTENT_DONE = 58;
export const C_LOCK_WAIT = 59;
// Line 4 (64-79): what consumers publish to producers.
export const HEAD = 64;
export const GET_COUNT = 65;
// Line 5 (80-95): getters waiting; line 6 (96-111): putters waiting; line 7 (112-127): joiners.
export const GET_WAIT = 80;
export const GET_EPOCH = 81;
export const GET_PARKED = 82;
export const GET_PARK_SEQ = 83;
export const GET_WOKE_SEQ = 84;
export const PUT_WAIT = 96;
export const PUT_EPOCH = 97;
export const PUT_PARKED = 98;
export const DONE = 112;
export const JOIN_WAIT = 113;

/**
 * How many items a bounded queue holds at most when its waiting putters are woken: a quarter of `maxsize` free (at
 * most 256), so a putter that found the queue full is woken once per many takes instead of on each one.
 */
export function putterLowWater(maxsize: number): number {
  return maxsize - Math.max(1, Math.min(256, maxsize >> 2));
}

/** A drained ring shrinks back to CAP_INIT once it has not grown for this long. */
export const SHRINK_AFTER_MS = 200;

/** Longest single sleep of a getter, putter or joiner before it looks again (see the invariants). */
export const WAIT_SLICE_MS = 100;

export const HEADER_BYTES = 1024;

/** Owner slots for each waiter advertisement (advert.ts). */
export const ADVERT_SLOTS = 16;
// Lines 8-12 (128-207): one line of owner slots per advertisement.
export const P_LOCK_ADVERT = { count: P_LOCK_WAIT, slots: 128, size: ADVERT_SLOTS } as const;
export const C_LOCK_ADVERT = { count: C_LOCK_WAIT, slots: 144, size: ADVERT_SLOTS } as const;
export const GET_ADVERT = { count: GET_WAIT, slots: 160, size: ADVERT_SLOTS } as const;
export const PUT_ADVERT = { count: PUT_WAIT, slots: 176, size: ADVERT_SLOTS } as const;
export const JOIN_ADVERT = { count: JOIN_WAIT, slots: 192, size: ADVERT_SLOTS } as const;
export const FRAME_HEADER = 8;
export const NO_INTENT = -1;

/** Word 1 of a frame that pads to the end of the ring. The chain's tags follow; every other tag is the codec's. */
export const TAG_WRAP = 0;
/** In the ring: the frames that follow are in block `length` (a sequence number). 8 bytes, no payload. */
export const TAG_LINK = 0xf1;
/** In a block: the frames that follow are in block `length`. 8 bytes, no payload. */
export const TAG_NEXT = 0xf2;
/** In a block: the frames that follow are in the ring, after the LINK that led here. 8 bytes, no payload. */
export const TAG_BACK = 0xf3;
/** Room the ring keeps free after its last item, so that a LINK always fits. */
export const LINK_ROOM = 8;

export const align8 = (n: number): number => (n + 7) & ~7;

/** The low byte of a frame's second word; the rest is its check. */
export const TAG_MASK = 0xff;

/** The check bits (upper 24) of the frame of `tag` and `length` at logical position `pos`. */
export function frameCheck(pos: number, length: number, tag: number): number {
  let h = Math.imul(pos ^ 0x70726f71, 0x9e3779b1) ^ Math.imul(length ^ (tag << 24), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return h & ~TAG_MASK;
}
