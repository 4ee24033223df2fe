/**
 * One `'abort'` listener per `AbortSignal`, however many procq calls wait on it.
 *
 * A program may pass one signal to a thousand pending `get`s; with a listener each, Node would print
 * `MaxListenersExceededWarning` past ten. Here the first subscription adds the signal's only listener, each later
 * one joins a set, and the listener goes when the set empties. Aborting calls every subscriber once, in the order
 * they subscribed.
 */

interface Subscribers {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const bySignal = new WeakMap<AbortSignal, Subscribers>();

/** Calls `callback` once when `signal` aborts; the function returned unsubscribes (safe to call twice). */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let subs = bySignal.get(signal);
  if (subs === undefined) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      bySignal.delete(signal);
      for (const cb of callbacks) cb();
      callbacks.clear();
    };
    subs = { callbacks, listener };
    bySignal.set(signal, subs);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { callbacks, listener } = subs;
  const entry = () => callback(); // its own identity, so one callback can subscribe twice
  callbacks.add(entry);
  return () => {
    if (!callbacks.delete(entry) || callbacks.size > 0) return;
    signal.removeEventListener('abort', listener);
    if (bySignal.get(signal)?.callbacks === callbacks) bySignal.delete(signal);
  };
}
