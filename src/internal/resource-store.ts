/**
 * Internal: the idle resources of a {@link Pool}, kept by generic-pool through its documented API only
 * (`createPool`, `acquire`, `release`, `destroy`, `isBorrowedResource`, `drain`, `clear`), with
 * connkit's own bookkeeping in front of it. See docs/architecture.md, "Pool".
 *
 * - generic-pool holds the idle list (`fifo: false`: the most recently released is lent first, so the
 *   surplus ages out) and evicts what stays idle past `idleTimeout` while more than `min` are idle
 *   (`softIdleTimeoutMillis` with its `min`).
 * - Creation stays the Pool's (signal, retries, slots): a fresh resource is handed in through the
 *   factory's `create`, which generic-pool calls when a borrow finds nothing idle. Its own calls (to top
 *   up its `min`) get a refusal, which it reports on an event nobody needs and does not retry.
 * - A resource given back is "hot" until the end of the event-loop turn, still on loan in
 *   generic-pool's books: a borrow in the same turn takes it synchronously, without generic-pool's
 *   return and borrow (the cost of an uncontended `use()`).
 * - `#idle` mirrors generic-pool's idle list in its order, so that a borrow — which generic-pool
 *   serves within `acquire()` when nobody waits — is known synchronously (`isBorrowedResource`
 *   confirms it): that is what lets `Pool.tryAcquire()` lend without a promise.
 * - Max lifetime is connkit's: a timer for the earliest expiry marks what is past it (so borrows and
 *   returns need no clock) and retires the idle ones; a lent one is retired when it comes back.
 * @module
 */
import genericPool from 'generic-pool';
import type { Pool as GenericPool } from 'generic-pool';
import { InvalidStateError } from '../errors.js';
import type { PoolConfig } from './pool-config.js';
import { now, startTimerAt } from './timer.js';

interface Meta {
  /** On the kit's one clock (`now()`); `Infinity`: never. */
  expiresAt: number;
  /** Set by the lifetime timer, so that no borrow or return has to read the clock. */
  expired: boolean;
  uses: number;
}

/**
 * The limits the store enforces (milliseconds).
 *
 * @example
 * ```ts
 * const cfg: StoreConfig = { max: 10, min: 0, idleTimeout: 30_000, maxLifetime: 1_800_000, lifetimeJitter: 0.1 };
 * ```
 */
export type StoreConfig = Pick<
  PoolConfig<unknown>,
  'max' | 'min' | 'idleTimeout' | 'maxLifetime' | 'lifetimeJitter'
>;

const IDLE = 'idle timeout';
const EXPIRED = 'max lifetime';
const CLOSED = 'pool closed';

/**
 * generic-pool as the idle list and eviction sweep of a Pool.
 *
 * @example
 * ```ts
 * const store = new ResourceStore<Conn>((conn, why) => void conn.close(), cfg);
 * const lent = await store.add(conn); // conn, now in generic-pool's books and on loan
 * store.release(lent);
 * const again = store.borrowIdle(); // conn, synchronously
 * ```
 */
export class ResourceStore<T> {
  readonly #gp: GenericPool<T>;
  readonly #dispose: (resource: T, reason: unknown) => void;
  readonly #config: StoreConfig;
  readonly #meta = new Map<T, Meta>();
  /** Why connkit asked generic-pool to destroy a resource (its own evictions are idle timeouts). */
  readonly #reasons = new Map<T, unknown>();
  /** Fresh resources waiting for generic-pool to ask for them through the factory's `create`. */
  readonly #handoffs: T[] = [];
  /** generic-pool's idle list in its order: the last element is the next it lends. */
  readonly #idle: T[] = [];
  /** Given back this turn, newest last; on loan in generic-pool's books until flushed. */
  #hot: T[] = [];
  #flushScheduled = false;
  #cancelSweep: () => void = noop;
  #sweepAt = Infinity;
  #closed = false;

  constructor(dispose: (resource: T, reason: unknown) => void, config: StoreConfig) {
    this.#dispose = dispose;
    this.#config = config;
    const { idleTimeout } = config;
    this.#gp = genericPool.createPool<T>(
      {
        create: () =>
          this.#handoffs.length > 0
            ? Promise.resolve(this.#handoffs.shift() as T)
            : Promise.reject(new InvalidStateError('the Pool keeps its min warm itself')),
        destroy: (r) => {
          const i = this.#idle.lastIndexOf(r);
          if (i !== -1) this.#idle.splice(i, 1);
          const reason = this.#reasons.has(r) ? this.#reasons.get(r) : this.#closed ? CLOSED : IDLE;
          this.#reasons.delete(r);
          this.#meta.delete(r);
          dispose(r, reason);
          return Promise.resolve();
        },
      },
      {
        max: config.max,
        min: config.min,
        fifo: false,
        // generic-pool reads 0 as "unset": the smallest positive value evicts at the first sweep.
        softIdleTimeoutMillis: idleTimeout || Number.MIN_VALUE,
        idleTimeoutMillis: Infinity, // no eviction below `min`
        // The sweep's period bounds how late an eviction can be: ≤ 1 s, or half the idle timeout.
        evictionRunIntervalMillis:
          idleTimeout === Infinity ? 0 : Math.max(10, Math.min(1000, idleTimeout / 2)),
        numTestsPerEvictionRun: config.max,
      },
    );
  }

  /** Resources idle now (generic-pool's and this turn's). */
  get idle(): number {
    return this.#hot.length + this.#idle.length;
  }

  /**
   * Borrows an idle resource (the most recently given back first), retiring those past their
   * lifetime on the way. Synchronous but for an unexpected generic-pool (see `#takeIdle`);
   * `undefined` when none can be had.
   */
  borrowIdle(): T | Promise<T> | undefined {
    const hot = this.#hot.pop();
    // Never past its lifetime: the lifetime timer retires idle ones, and a lent one it marked never comes back.
    if (hot !== undefined) return hot;
    for (;;) {
      const r = this.#takeIdle();
      if (r === undefined || r instanceof Promise || this.#meta.get(r)?.expired !== true) return r;
      this.destroy(r, EXPIRED);
    }
  }

  /** {@link borrowIdle}, but only what can be had synchronously: never a promise. */
  borrowIdleNow(): T | undefined {
    const r = this.borrowIdle();
    if (!(r instanceof Promise)) return r;
    r.then(
      (x) => this.release(x),
      () => undefined, // generic-pool closed meanwhile: nothing to give back
    );
    return undefined;
  }

  /**
   * Hands a fresh resource to generic-pool (its lifetime starts now) and borrows it. generic-pool
   * creates only when nothing is idle, so the idle ones wait in the hot list meanwhile.
   */
  add(r: T): Promise<T> {
    const { maxLifetime, lifetimeJitter } = this.#config;
    const expiresAt = now() + maxLifetime * (1 - lifetimeJitter * Math.random());
    this.#meta.set(r, { expiresAt, expired: false, uses: 0 });
    if (expiresAt < this.#sweepAt) this.#armSweep(expiresAt);
    const parked: T[] = [];
    for (let x = this.#takeIdle(); x !== undefined; x = this.#takeIdle()) {
      if (x instanceof Promise) x.then((y) => this.release(y), noop);
      else parked.push(x);
    }
    if (parked.length > 0) this.#park(parked);
    this.#handoffs.push(r);
    return this.#gp.acquire();
  }

  /**
   * Counts one use of a lent resource and says why it must be retired (maxUses, lifetime), or
   * `undefined` when it may go back.
   */
  retireReason(r: T, maxUses: number, countUse: boolean): string | undefined {
    const meta = this.#meta.get(r);
    if (meta === undefined) return 'untracked';
    if (countUse && ++meta.uses >= maxUses) return 'max uses';
    return meta.expired ? EXPIRED : undefined;
  }

  /** Takes back a lent resource as idle: hot for the rest of this turn, then generic-pool's. */
  release(r: T): void {
    if (this.#closed) return this.destroy(r, CLOSED); // generic-pool's idle list was cleared for good
    this.#hot.push(r);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Destroys a lent (or hot) resource; the dispose callback follows. */
  destroy(r: T, reason: unknown): void {
    if (this.#gp.isBorrowedResource(r)) {
      this.#reasons.set(r, reason);
      void this.#gp.destroy(r);
    } else {
      this.#meta.delete(r);
      this.#dispose(r, reason);
    }
  }

  /** Destroys every idle resource; resources still lent must come back through `destroy()`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelSweep();
    this.#flush();
    // drain() stops generic-pool's own min top-up, and its eviction timer once every loan is back; not
    // awaited, since a loan may come back much later (through destroy(), which still works).
    void this.#gp.drain();
    await this.#gp.clear();
  }

  /** Borrows the top of generic-pool's idle list, which it lends within `acquire()` when nobody waits. */
  #takeIdle(): T | Promise<T> | undefined {
    const gp = this.#gp;
    // A waiter inside generic-pool (a fresh resource on its way) would be served first, and one that
    // is not covered by an idle resource makes it create: never queue behind one.
    if (this.#closed || gp.pending > 0 || gp.available === 0) return undefined;
    const next = this.#idle.at(-1);
    const lent = gp.acquire();
    if (next !== undefined && gp.isBorrowedResource(next)) {
      this.#idle.pop();
      return next;
    }
    // Not generic-pool 3's behaviour: follow its promise instead.
    return lent.then((r) => {
      const i = this.#idle.lastIndexOf(r);
      if (i !== -1) this.#idle.splice(i, 1);
      return r;
    });
  }

  /** Idle resources taken out for a moment go back below this turn's: the lending order stays. */
  #park(parked: T[]): void {
    parked.reverse();
    this.#hot = parked.concat(this.#hot);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const hot = this.#hot;
    if (hot.length === 0) return;
    this.#hot = [];
    // Oldest first: generic-pool lends the last released first, as the hot list does.
    for (const r of hot) {
      this.#idle.push(r);
      void this.#gp.release(r);
    }
  };

  #armSweep(at: number): void {
    this.#cancelSweep();
    this.#sweepAt = at;
    // Unref'd, like generic-pool's own sweep: never what keeps a process alive.
    this.#cancelSweep = this.#closed ? noop : startTimerAt(at, this.#sweep, true);
  }

  /** Marks the resources past their lifetime and retires the idle ones (lent ones go when they come back). */
  readonly #sweep = (): void => {
    const at = now();
    let next = Infinity;
    for (const meta of this.#meta.values()) {
      if (meta.expiresAt <= at) meta.expired = true;
      else if (meta.expiresAt < next) next = meta.expiresAt;
    }
    const expired = (r: T): boolean => this.#meta.get(r)?.expired === true;
    this.#hot = this.#hot.filter((r) => {
      if (!expired(r)) return true;
      this.destroy(r, EXPIRED);
      return false;
    });
    // generic-pool lends from the top only: take everything down to the deepest expired resource.
    const depth = this.#idle.length - this.#idle.findIndex(expired);
    const parked: T[] = [];
    for (let n = depth > this.#idle.length ? 0 : depth; n > 0; n--) {
      const r = this.#takeIdle();
      if (r === undefined || r instanceof Promise) break;
      if (expired(r)) this.destroy(r, EXPIRED);
      else parked.push(r);
    }
    if (parked.length > 0) this.#park(parked);
    this.#armSweep(next);
  };
}

function noop(): void {}
