/**
 * Internal: one abort listener per AbortSignal, shared by every wait on it. Node's EventTarget makes
 * every `addEventListener` O(listeners) and warns past 10 (MaxListenersExceededWarning), so a
 * listener per waiter would be quadratic and noisy with many waits on a long-lived signal (a
 * service's shutdown signal). Waiters, `sleep`, `waitFor`, `gather` and tasks all register here.
 * @module
 */

/**
 * Anything that stops waiting when a signal aborts: a `Waiter`, a `sleep()`, a task…
 *
 * @example
 * ```ts
 * const watcher: AbortWatcher = { giveUp: (reason) => reject(reason) };
 * ```
 */
export interface AbortWatcher {
  /** The signal aborted with `reason`; the watcher is already off the signal's list. */
  giveUp(reason: unknown): void;
}

/** The one abort listener of a signal, shared by every watcher on it (FIFO: a Set keeps insertion order). */
class SignalWatchers {
  readonly watchers = new Set<AbortWatcher>();
  readonly signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.signal = signal;
  }

  handleEvent(): void {
    watched.delete(this.signal);
    this.signal.removeEventListener('abort', this);
    const reason: unknown = this.signal.reason;
    for (const watcher of this.watchers) watcher.giveUp(reason);
    this.watchers.clear();
  }
}

const watched = new WeakMap<AbortSignal, SignalWatchers>();

/**
 * Calls `watcher.giveUp(signal.reason)` when `signal` aborts, through one listener per signal shared
 * by every watcher (so many concurrent waits on a long-lived signal cost O(1) each and raise no
 * MaxListenersExceededWarning). Pair with {@link unwatchAbort} once the wait ends otherwise.
 *
 * @example
 * ```ts
 * watchAbort(signal, watcher);
 * try { await work(); } finally { unwatchAbort(signal, watcher); }
 * ```
 */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  let entry = watched.get(signal);
  if (entry === undefined) {
    entry = new SignalWatchers(signal);
    watched.set(signal, entry);
    signal.addEventListener('abort', entry);
  }
  entry.watchers.add(watcher);
}

/**
 * Takes `watcher` off `signal`; the shared listener goes once nobody watches (nothing is left behind).
 * A no-op when the watcher is not there (already given up, or never added).
 *
 * @example
 * ```ts
 * unwatchAbort(signal, watcher);
 * ```
 */
export function unwatchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  const entry = watched.get(signal);
  if (entry !== undefined && entry.watchers.delete(watcher) && entry.watchers.size === 0) {
    // The last watcher left: take the listener off, so a long-lived signal keeps nothing of ours.
    watched.delete(signal);
    signal.removeEventListener('abort', entry);
  }
}
