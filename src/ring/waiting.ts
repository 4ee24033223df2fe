/**
 * The function forms of the waiting layer's `WaitWord` (src/wait/wait-word.ts), for code that waits on a word it
 * does not keep a `WaitWord` for. Prefer a `WaitWord` held by the owner of the word: it keeps the word's spin
 * budget between waits.
 */
import type { Segment } from '../memory/segment.js';
import { deadlineOf, type Ready, type Waiters, WaitWord } from '../wait/index.js';

export { deadlineOf, type Ready };

function sliceCheck(ready: Ready, onSlice: (() => void) | undefined): (() => boolean) | undefined {
  if (onSlice === undefined) return undefined;
  return () => {
    onSlice();
    return ready();
  };
}

/** Blocks until `ready()` or the deadline; false on timeout. `onSlice` runs after each slice without a wake-up. */
export function waitSync(
  seg: Segment,
  word: number,
  waiters: Waiters,
  ready: Ready,
  deadline: number,
  sliceMs?: number,
  onSlice?: () => void,
): boolean {
  const w = new WaitWord(seg, word, waiters, { sliceMs });
  return w.waitSync(ready, deadline, sliceCheck(ready, onSlice));
}

/** The Promise form of {@link waitSync}; rejects with AbortError on abort. */
export function waitAsync(
  seg: Segment,
  word: number,
  waiters: Waiters,
  ready: Ready,
  deadline: number,
  signal: AbortSignal | undefined,
  sliceMs?: number,
  onSlice?: () => void,
): Promise<boolean> {
  const w = new WaitWord(seg, word, waiters, { sliceMs });
  return w.wait(ready, deadline, signal, sliceCheck(ready, onSlice));
}
