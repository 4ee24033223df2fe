/**
 * Spinning only while it pays.
 *
 * A wake-up through the kernel costs 5-80 µs (far more for an async wait, which goes through a native thread and
 * back to the event loop), and it costs the waker a system call too, so a peer that answers within a few
 * microseconds is better caught spinning. But a spin is pure loss when the peer is not running (descheduled on a
 * busy machine, stopped, or simply slow): it burns a core the peer may need. So:
 *
 * each wait site keeps a spin budget learnt from its recent waits: a wait caught by the spin keeps the budget at
 * least twice what it took; a wait that slept but ended soon after (within SHORT_SLEEP_US: the peer answered just
 * after the spin gave up) raises it; a long wait (the peer was not running, or had nothing to say) halves it.
 * Budgets stay within [MIN_SPIN_US, MAX_SPIN_US]: a peer that is not running costs a waiter at most MIN_SPIN_US
 * of spinning before it sleeps (yielding its core), while a running peer is still caught when it answers fast
 * (measured on a busy 2-core machine: with no floor, waiters whose budget had collapsed slept on every wait and
 * their peers paid a futex wake per item; 12-byte spsc fell 20-35% below the fixed 20 µs spin).
 *
 * A spin that finds a gap of PREEMPTED_US between two looks at the clock was descheduled: more threads want the
 * cores than there are. Spinning on then costs the cores' owed time (a whole slice on a busy machine, taken from
 * the peer the spinner waits for), so it stops at once (after one last look) and the budget drops to its floor.
 */
/** The longest spin. */
export const MAX_SPIN_US = 40;
/** The shortest: what a spin that does not pay may waste per wait (half the fixed 20 µs spin it replaces). */
export const MIN_SPIN_US = 8;
/** A sleep that ended within this (from the start of the wait) says a longer spin would have caught it. */
const SHORT_SLEEP_US = 200;
/** Checks before the clock is first read: the cheapest catch, always tried. */
const QUICK_CHECKS = 64;
/** A gap this long between two looks at the clock inside a spin (normally ~1 µs apart): it was descheduled. */
export const PREEMPTED_US = 50;

export type Ready = () => boolean;

/** The spin budget of one wait site (a word that some code waits on), learnt from its recent waits. */
export class Spinner {
  /** Microseconds to spin before sleeping. */
  budgetUs = MAX_SPIN_US / 2;
  /** The last spin was descheduled (see PREEMPTED_US); read by the next `record`. */
  #preempted = false;

  /** Spins until `ready()` or the budget runs out, or the spin is descheduled. True when ready. */
  spin(ready: Ready): boolean {
    for (let i = 0; i < QUICK_CHECKS; i++) if (ready()) return true;
    const budget = this.budgetUs;
    if (budget < 1) return false;
    let last = performance.now();
    const until = last + budget / 1000;
    for (;;) {
      for (let i = 0; i < 32; i++) if (ready()) return true;
      const now = performance.now();
      if (now - last > PREEMPTED_US / 1000) {
        this.#preempted = true;
        return ready();
      }
      if (now >= until) return false;
      last = now;
    }
  }

  /** Records how long a wait took in all (spin and sleep), in microseconds, and whether it slept. */
  record(waitedUs: number, slept: boolean): void {
    if (this.#preempted) {
      // The cores are oversubscribed: spin the least until waits show again that spinning catches the peer.
      this.#preempted = false;
      this.budgetUs = MIN_SPIN_US;
      return;
    }
    if (!slept) {
      // Caught by the spin: keep at least twice what it took (never shrink on a success: the next answer may
      // take a little longer, and missing it costs a sleep here and a system call in the waker).
      this.budgetUs = Math.max(this.budgetUs, Math.min(MAX_SPIN_US, 2 * waitedUs + 1));
    } else if (waitedUs <= SHORT_SLEEP_US) {
      this.budgetUs = Math.min(MAX_SPIN_US, this.budgetUs * 1.5 + 1);
    } else {
      this.budgetUs = Math.max(MIN_SPIN_US, this.budgetUs / 2);
    }
  }
}
