// The waiting layer (src/wait/): one native sleeper per (thread, word) for every pending async wait, one waiter woken
// per item, spinning that adapts to what recent waits saw, and owner identities that pid reuse cannot fake.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createSegment, type SegmentKind } from '../src/memory/index.js';
import { loadNative } from '../src/native/index.js';
import { Queue } from '../src/queue/queue.js';
import { ownerId, ownerLives, ownerStart, ownerWord, tidOf } from '../src/wait/identity.js';
import { MAX_SPIN_US, MIN_SPIN_US, PREEMPTED_US, Spinner } from '../src/wait/spin.js';
import { WaitWord } from '../src/wait/wait-word.js';

const native = loadNative();
const noNative = native === null ? 'needs the native addon' : false;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const threads = (): number => readdirSync('/proc/self/task').length;

/** CPU time this process has used (user + system), in clock ticks (1/100 s). */
function cpuTicks(): number {
  const s = readFileSync('/proc/self/stat', 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

describe('async waits share one sleeper per word', { skip: noNative }, () => {
  test('1,000 pending gets: a few threads, no CPU while idle; each settles correctly (items, timeouts, abort)', async () => {
    const q = new Queue<number>();
    // Warm up: the addon's first async wait starts a waiter thread, kept idle for reuse.
    q.putNowait(-1);
    assert.equal(await q.get(), -1);
    const warm = q.get({ timeout: 20 }).catch(() => 'timeout');
    assert.equal(await warm, 'timeout');
    const before = threads();

    const N = 1000;
    const ac = new AbortController();
    const settled: unknown[] = new Array(N).fill(undefined);
    const gets = Array.from({ length: N }, (_, i) => {
      // A third time out soon, a third wait for items, a third are aborted.
      const options =
        i % 3 === 0 ? { timeout: 300 } : i % 3 === 1 ? { timeout: 60_000 } : { signal: ac.signal };
      return q.get(options).then(
        (v) => (settled[i] = v),
        (e: Error) => (settled[i] = e.name),
      );
    });
    await sleep(200);
    const pending = threads();
    assert.ok(
      pending - before <= 2,
      `${pending - before} more threads with ${N} pending gets (${before} before)`,
    );
    assert.ok(native!.stats().pendingWaits <= 2, `${native!.stats().pendingWaits} native waits pending`);

    await sleep(300); // the short timeouts pass
    const c0 = cpuTicks();
    await sleep(1000);
    const used = cpuTicks() - c0;
    assert.ok(
      used <= 10,
      `${used} ticks (1/100 s) of CPU in 1 s with ${N} gets pending and nothing happening`,
    );
    const timedOut = settled.filter((v) => v === 'Empty').length;
    assert.equal(timedOut, Math.ceil(N / 3), 'every get with a 300 ms timeout ended Empty, and only those');

    // One item wakes one get, not all of them (no herd: the native waits started stay few).
    const started = native!.stats().waitsStarted;
    q.putNowait(0);
    await sleep(100);
    assert.equal(settled.filter((v) => typeof v === 'number').length, 1, 'exactly one get took the item');
    assert.ok(native!.stats().waitsStarted - started <= 5, 'one wake-up, not one per pending get');

    ac.abort();
    await sleep(50);
    assert.equal(settled.filter((v) => v === 'AbortError').length, Math.floor(N / 3));

    const waiting = N - Math.ceil(N / 3) - Math.floor(N / 3) - 1;
    q.putManySync(Array.from({ length: waiting }, (_, i) => i + 1));
    await Promise.all(gets);
    const values = settled.filter((v) => typeof v === 'number') as number[];
    assert.deepEqual(
      values.sort((a, b) => a - b),
      Array.from({ length: waiting + 1 }, (_, i) => i),
      'every item reached exactly one get',
    );
    assert.equal(q.qsize(), 0);
    await sleep(50);
    assert.equal(native!.stats().pendingWaits, 0, 'no native wait left pending');
  });

  test('waiters of several queues in one thread: one sleeper per queue word, all settle', async () => {
    const queues = Array.from({ length: 20 }, () => new Queue<string>());
    const gets = queues.flatMap((q) => Array.from({ length: 20 }, () => q.get({ timeout: 30_000 })));
    await sleep(100);
    assert.ok(
      native!.stats().pendingWaits <= 20,
      `${native!.stats().pendingWaits} native waits for 20 words`,
    );
    for (const [k, q] of queues.entries()) q.putManySync(Array.from({ length: 20 }, (_, i) => `${k}:${i}`));
    const got = await Promise.all(gets);
    assert.equal(new Set(got).size, 400);
  });
});

describe('a shared sleeper keeps every deadline', () => {
  for (const kind of ['sab', ...(native === null ? [] : ['shm'])] as SegmentKind[]) {
    test(`a short wait that joins long ones (10 s slices) still ends at its deadline (${kind})`, async () => {
      const seg = createSegment(64, kind);
      const word = new WaitWord(seg, 0, 1, { sliceMs: 10_000, epoch: true });
      const never = () => Atomics.load(seg.i32, 2) === 1;
      const long = [word.wait(never, Number.POSITIVE_INFINITY), word.wait(never, Number.POSITIVE_INFINITY)];
      await sleep(50);
      const t0 = performance.now();
      assert.equal(await word.wait(never, performance.now() + 20), false);
      const took = performance.now() - t0;
      assert.ok(
        took < 5000,
        `a 20 ms wait took ${Math.round(took)} ms (the group slept on for its 10 s slice)`,
      );
      Atomics.store(seg.i32, 2, 1);
      word.wake(Number.POSITIVE_INFINITY);
      assert.deepEqual(await Promise.all(long), [true, true]);
    });
  }
});

describe('adaptive spinning', () => {
  test('the budget falls to its floor when waits are long (peer not running), and comes back when they are short', () => {
    const s = new Spinner();
    for (let i = 0; i < 20; i++) s.record(5_000, true);
    assert.equal(s.budgetUs, MIN_SPIN_US, 'long waits bring the budget down to its floor');
    const t0 = performance.now();
    assert.equal(
      s.spin(() => false),
      false,
    );
    const spun = (performance.now() - t0) * 1000;
    assert.ok(spun >= MIN_SPIN_US, `a spin at the floor lasted ${spun} µs`);
    for (let i = 0; i < 10; i++) s.record(80, true); // slept, but the answer came right after the spin gave up
    assert.equal(s.budgetUs, MAX_SPIN_US, 'short sleeps raise the budget back');
    for (let i = 0; i < 40; i++) s.record(5, false);
    assert.equal(s.budgetUs, MAX_SPIN_US, 'a wait caught by the spin never lowers the budget');
    for (let i = 0; i < 20; i++) s.record(5_000, true);
    for (let i = 0; i < 40; i++) s.record(5, false);
    assert.equal(s.budgetUs, 11, 'waits caught after 5 µs keep at least 2 × 5 + 1 µs');
    s.record(1, false);
    assert.equal(s.budgetUs, 11, 'a quicker catch does not lower it');
  });

  test('a spin that is descheduled stops at once and drops the budget to its floor', () => {
    const s = new Spinner();
    for (let i = 0; i < 10; i++) s.record(80, true);
    assert.equal(s.budgetUs, MAX_SPIN_US);
    // A ready() that stalls once for 4 × PREEMPTED_US stands in for the thread losing its core mid-spin.
    let looks = 0;
    let stalled = false;
    const ready = () => {
      looks++;
      if (looks === 100 && !stalled) {
        stalled = true;
        const until = performance.now() + (4 * PREEMPTED_US) / 1000;
        while (performance.now() < until);
      }
      return false;
    };
    assert.equal(s.spin(ready), false);
    // Without the stop, a 40 µs budget is thousands of looks; with it, at most one round of 32 after the gap (or
    // fewer, if this busy machine descheduled the spin before the stall).
    assert.ok(looks <= 100 + 33, `it stopped right after the gap (${looks} looks)`);
    s.record(5_000, false);
    assert.equal(s.budgetUs, MIN_SPIN_US, 'the budget is at its floor');
    s.record(5, false);
    assert.equal(s.budgetUs, 11, 'and comes back with spins that catch the peer');
  });
});

describe('owner identity', { skip: noNative }, () => {
  test('(tid, start time): alive for the thread itself, dead for a wrong start time or a gone thread', () => {
    const word = ownerWord();
    assert.equal(tidOf(word), ownerId());
    assert.ok(ownerStart() > 0);
    assert.equal(ownerLives(word, ownerStart()), true);
    assert.equal(ownerLives(word, 0), true, 'the TAG in the word alone');
    assert.equal(ownerLives(word, ownerStart() === 1 ? 2 : ownerStart() - 1), false, 'another start time');
    // The same tid with another TAG: a thread that started at another time.
    const otherTag = (word ^ (1 << 22)) | 0;
    assert.equal(ownerLives(otherTag, 0), false, 'another TAG');
    assert.equal(ownerLives(0x3fffff, 0), false, 'no such thread');
  });
});
