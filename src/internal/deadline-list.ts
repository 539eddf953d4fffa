/**
 * Internal: many deadlines watched by few timers. A timer per waiting entry (a queued pool caller, an
 * unconfirmed publish) costs more than the rest of the wait: timer objects, list inserts and removals,
 * clock reads. Entries with the same timeout expire in the order they were added, so they form a FIFO
 * group watched by one timer, armed for the oldest entry still live. Settled entries are not searched
 * for: they are marked, skipped at the head and dropped, and a group compacts itself when they come to
 * dominate it, so a long-lived list pins no memory.
 *
 * One clock: the kit's `now()` (`performance.now()`: monotonic, faked by test fake timers).
 * @module
 */
import { Fifo } from './fifo.js';
import { MAX_TIMEOUT, now } from './timer.js';

/**
 * An entry of a {@link DeadlineList}. The list owns both fields; the owner may read `deadline`.
 *
 * @example
 * ```ts
 * class Publish implements Expiring {
 *   deadline = Infinity;
 *   deadlineGroup: object | undefined = undefined;
 * }
 * ```
 */
export interface Expiring {
  /** Time on the kit's clock (`now()`) at which the entry expires (`Infinity`: never). */
  deadline: number;
  /** The group watching the entry; `undefined` once it expired or was deleted (or never watched). */
  deadlineGroup: object | undefined;
}

/** Below this many entries a group never compacts: a short walk is cheaper than a copy. */
const COMPACT_AT = 64;

/** The entries with one timeout (in ms, rounded up), in deadline order, under one timer. */
class Group<E extends Expiring> {
  readonly entries = new Fifo<E>();
  /** Entries not yet expired or deleted (the FIFO also holds settled ones until they are dropped). */
  live = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  refed = false;
  firing = false;

  constructor(
    readonly list: DeadlineList<E>,
    readonly key: number,
  ) {}

  push(entry: E): void {
    const entries = this.entries;
    // Entries usually settle in the order they came (FIFO queues, streamed confirms): drop them here
    // rather than at the next expiry, or the group would pin everything added in the last `key` ms.
    for (
      let head = entries.peek();
      head !== undefined && head.deadlineGroup !== this;
      head = entries.peek()
    ) {
      entries.shift();
    }
    if (entries.length >= COMPACT_AT && entries.length > 2 * this.live) this.#compact();
    entries.push(entry);
    this.live++;
    if (this.firing) return; // re-armed once the expired entries are through
    if (this.timer === undefined) this.arm(this.key);
    else if (!this.refed) {
      // Left armed for an entry that settled: it may fire early, finds nobody due and re-arms.
      this.timer.ref();
      this.refed = true;
    }
  }

  /** One entry settled: once none is live the timer stops holding the process open. */
  left(): void {
    if (--this.live > 0) return;
    this.entries.clear();
    if (this.timer !== undefined && this.refed) {
      // Kept armed for the next entry with this timeout (the common case under load); it drops the
      // group if it fires empty.
      this.timer.unref();
      this.refed = false;
    }
  }

  fire(): void {
    this.timer = undefined;
    const at = now();
    const entries = this.entries;
    this.firing = true;
    try {
      for (let e = entries.peek(); e !== undefined; e = entries.peek()) {
        if (e.deadlineGroup === this) {
          if (e.deadline > at) break;
          e.deadlineGroup = undefined;
          this.live--;
          entries.shift();
          // Out of the list before the callback: it may add, delete or clear.
          this.list.expired(e);
        } else {
          entries.shift(); // settled meanwhile
        }
      }
    } finally {
      this.firing = false;
    }
    // The head is now live and not due (no callback ran since the loop looked at it), or none is left.
    const head = entries.peek();
    if (this.live > 0 && head !== undefined) this.arm(head.deadline - at);
    else this.list.dropGroup(this);
  }

  arm(ms: number): void {
    // setTimeout fires at once past 2^31-1 ms: a longer deadline is reached in steps, checked against the clock.
    const delay = Math.min(Math.max(1, Math.ceil(ms)), MAX_TIMEOUT);
    this.timer = setTimeout(onGroupTimer, delay, this);
    this.refed = true;
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (let e = this.entries.peek(); e !== undefined; e = this.entries.peek()) {
      if (e.deadlineGroup === this) e.deadlineGroup = undefined;
      this.entries.shift();
    }
    this.live = 0;
  }

  #compact(): void {
    const kept = new Fifo<E>();
    const entries = this.entries;
    while (entries.length > 0) {
      const e = entries.shift();
      if (e.deadlineGroup === this) kept.push(e);
    }
    while (kept.length > 0) entries.push(kept.shift());
  }
}

// One function for every group's timer: no closure per arm.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- shared by the groups of every list
function onGroupTimer(group: Group<any>): void {
  group.fire();
}

/**
 * Deadlines on one clock, one timer per distinct timeout. `add` an entry with its timeout; `delete`
 * it when it settles otherwise (O(1), idempotent); `onExpire` gets each entry whose deadline passed,
 * already out of the list. Timeouts may be anything from 0 to `Infinity` (never watched); those above
 * what `setTimeout` honours (2^31-1 ms) are reached in steps.
 *
 * @example
 * ```ts
 * const deadlines = new DeadlineList<Publish>((p) => p.reject(new TimeoutError('publish timed out')));
 * deadlines.add(publish, opts.timeout ?? defaultTimeout); // most share the default: one timer for all
 * // on confirm:
 * deadlines.delete(publish);
 * ```
 */
export class DeadlineList<E extends Expiring> {
  readonly #groups = new Map<number, Group<E>>();
  /** The group of the last `add`. */
  #last: Group<E> | undefined = undefined;
  readonly #onExpire: (entry: E) => void;

  constructor(onExpire: (entry: E) => void) {
    this.#onExpire = onExpire;
  }

  /** Entries watched (added, not yet expired or deleted). */
  get size(): number {
    let n = 0;
    for (const group of this.#groups.values()) n += group.live;
    return n;
  }

  /** Entries still referenced (live ones, and settled ones not dropped yet): stays O(size). */
  get held(): number {
    let n = 0;
    for (const group of this.#groups.values()) n += group.entries.length;
    return n;
  }

  /** Watches `entry` for `ms` milliseconds from now (rounded up to the ms); sets `entry.deadline`. */
  add(entry: E, ms: number): void {
    if (entry.deadlineGroup !== undefined) this.delete(entry);
    if (ms === Infinity) {
      entry.deadline = Infinity;
      return;
    }
    const key = Math.ceil(ms);
    // Most entries share one timeout (a pool's acquireTimeout, a publisher's publishTimeout).
    let group = this.#last;
    if (group === undefined || group.key !== key) {
      group = this.#groups.get(key);
      if (group === undefined) {
        group = new Group<E>(this, key);
        this.#groups.set(key, group);
      }
      this.#last = group;
    }
    entry.deadline = now() + key;
    entry.deadlineGroup = group;
    group.push(entry);
  }

  /** Stops watching `entry` (it settled otherwise); a no-op when it is not watched. */
  delete(entry: E): void {
    const group = entry.deadlineGroup as Group<E> | undefined;
    if (group === undefined || group.list !== this) return;
    entry.deadlineGroup = undefined;
    group.left();
  }

  /** Stops watching every entry and cancels every timer. */
  clear(): void {
    for (const group of this.#groups.values()) group.cancel();
    this.#groups.clear();
    this.#last = undefined;
  }

  /** Internal (the groups' callback): `entry` expired and left the list. */
  expired(entry: E): void {
    this.#onExpire(entry);
  }

  /** Internal: a group fired with nothing left to watch. */
  dropGroup(group: Group<E>): void {
    if (this.#groups.get(group.key) === group) this.#groups.delete(group.key);
    if (this.#last === group) this.#last = undefined;
  }
}
