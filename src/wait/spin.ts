/**
 * Spinning only while it pays.
 *
 * A wake-up through the kernel costs 5-80 µs (far more for an async wait, which goes through a native thread and
 * back to the event loop), so a peer that answers within a few microseconds is better caught spinning. But a spin
 * is pure loss when the peer is not running (descheduled on a busy machine, stopped, or simply slow): it burns a
 * core the peer may need. So each wait site keeps a spin budget learnt from its recent waits:
 *
 * - a wait that ended within MAX_SPIN_US (by spinning, or soon after it went to sleep) pulls the budget towards
 *   twice what it took: spinning that long would have caught it;
 * - a longer wait halves the budget: the answer does not come within a spin, do not spin for it.
 *
 * Under load (the peer descheduled) the waits grow and the budget falls to nothing within a few waits, so waiters
 * go to sleep at once; on a quiet machine with a fast peer it settles at a few tens of microseconds. While it
 * spins past YIELD_AFTER_US, the waiter yields its core between rounds (`sched_yield`), so a peer that is runnable
 * on this core gets to run instead of waiting for the spinner's time slice to end.
 */
import { loadNative } from '../native/index.js';

/** The longest spin. */
export const MAX_SPIN_US = 40;
/** Spin this long before yielding the core between rounds. */
const YIELD_AFTER_US = 8;
/** Checks before the clock is first read: the cheapest catch, always tried. */
const QUICK_CHECKS = 64;

export type Ready = () => boolean;

let yieldCore: (() => void) | undefined | null;

function yielder(): (() => void) | null {
  if (yieldCore === undefined) {
    const native = loadNative();
    yieldCore = native === null ? null : () => native.schedYield();
  }
  return yieldCore;
}

/** The spin budget of one wait site (a word that some code waits on), learnt from its recent waits. */
export class Spinner {
  /** Microseconds to spin before sleeping. */
  budgetUs = MAX_SPIN_US / 2;

  /** Spins until `ready()` or the budget runs out. True when ready. */
  spin(ready: Ready): boolean {
    for (let i = 0; i < QUICK_CHECKS; i++) if (ready()) return true;
    const budget = this.budgetUs;
    if (budget < 1) return false;
    const start = performance.now();
    const until = start + budget / 1000;
    const yieldAt = start + YIELD_AFTER_US / 1000;
    let y: (() => void) | null | undefined;
    for (;;) {
      for (let i = 0; i < 32; i++) if (ready()) return true;
      const now = performance.now();
      if (now >= until) return false;
      if (now >= yieldAt) {
        y ??= yielder();
        if (y !== null) y();
      }
    }
  }

  /** Records how long a wait took in all (spin and sleep), in microseconds. */
  record(waitedUs: number): void {
    if (waitedUs <= MAX_SPIN_US) {
      const target = Math.min(MAX_SPIN_US, 2 * waitedUs);
      this.budgetUs += (target - this.budgetUs) / 4;
    } else {
      this.budgetUs /= 2;
    }
  }
}
