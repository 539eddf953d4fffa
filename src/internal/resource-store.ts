/**
 * Internal: generic-pool used as the resource store of {@link Pool} — idle list (LIFO), loans and
 * the eviction sweep (idle timeout and jittered max lifetime) — with creation taken out of its hands.
 *
 * generic-pool creates on its own whenever it has more waiters than resources, and re-dispatches
 * a failed create for as long as the waiter stays queued: forever, since its waiters cannot be
 * withdrawn. So the store never lets it hold a waiter that is not already covered: a resource is
 * borrowed only when one is idle, and a fresh resource (made by the Pool, with retries and a
 * signal) is handed in through the factory's `create`, which generic-pool calls synchronously
 * from `acquire()`. Its `min` is 0: warm-up is the Pool's, under the same slot accounting.
 * @module
 */
import genericPool from 'generic-pool';
import type { Factory, Options, Pool as GenericPool } from 'generic-pool';
import { InvalidStateError } from '../errors.js';

interface PooledResource<T> {
  obj: T;
  lastIdleTime: number;
}
interface Evictor<T> {
  evict(config: unknown, pooled: PooledResource<T>, availableCount: number): boolean;
}
interface GenericPoolModule {
  Pool: new <T>(
    evictor: new () => Evictor<T>,
    deque: unknown,
    priorityQueue: unknown,
    factory: Factory<T>,
    options: Options,
  ) => GenericPool<T>;
  Deque: unknown;
  PriorityQueue: unknown;
}
const gp = genericPool as unknown as GenericPoolModule;
/** The idle list generic-pool 3 lends from (`fifo: false`: the most recently released first). */
interface GpInternals<T> {
  _availableObjects?: { head?: { obj: T } | undefined };
}

interface Meta {
  expiresAt: number;
  uses: number;
}

/**
 * What the store needs from its pool.
 *
 * @example
 * ```ts
 * const host: StoreHost<Conn> = { dispose: (c, why) => void c.close(), aboveMin: () => live > min };
 * ```
 */
export interface StoreHost<T> {
  /** Disposes of a resource generic-pool gave up (evicted, destroyed). Never rejects. */
  dispose(resource: T, reason: unknown): void;
  /** True when an idle resource may be evicted for idleness (the pool is above `min`). */
  aboveMin(): boolean;
}

/**
 * The limits the store enforces (milliseconds).
 *
 * @example
 * ```ts
 * const cfg: StoreConfig = { max: 10, idleTimeout: 30_000, maxLifetime: 1_800_000, lifetimeJitter: 0.1 };
 * ```
 */
export interface StoreConfig {
  max: number;
  idleTimeout: number;
  maxLifetime: number;
  lifetimeJitter: number;
}

const IDLE = 'idle timeout';
const EXPIRED = 'max lifetime';

/**
 * generic-pool as the idle list, loan book and eviction sweep of a Pool.
 *
 * @example
 * ```ts
 * const store = new ResourceStore<Conn>(host, cfg);
 * store.track(conn);
 * const lent = await store.add(conn); // conn, or an idle one generic-pool served first
 * store.release(lent);
 * ```
 */
export class ResourceStore<T> {
  readonly #gp: GenericPool<T>;
  readonly #meta = new Map<T, Meta>();
  /** Why generic-pool is destroying a resource, for the `'destroy'` event. */
  readonly #reasons = new Map<T, unknown>();
  readonly #config: StoreConfig;
  #handoff: T | undefined = undefined;
  #handing = false;
  /**
   * The last resource given back, held until the end of the current turn of the event loop (still
   * on loan in generic-pool's books). A caller who borrows again within the same turn — a loop of
   * use() calls, the next query after a result — takes it without a generic-pool return and borrow
   * (two promises, two loan records, a dispense: half the cost of an uncontended borrow). Anything
   * idle longer goes back to generic-pool, whose idle list and eviction sweep stay in charge.
   */
  #hot: T | undefined = undefined;
  #flushScheduled = false;
  readonly #flushHot = (): void => {
    this.#flushScheduled = false;
    const r = this.#hot;
    this.#hot = undefined;
    if (r !== undefined) void this.#gp.release(r);
  };

  readonly #host: StoreHost<T>;

  constructor(host: StoreHost<T>, config: StoreConfig) {
    this.#host = host;
    this.#config = config;
    const meta = this.#meta;
    const reasons = this.#reasons;
    const { idleTimeout } = config;
    class LifetimeEvictor implements Evictor<T> {
      evict(_config: unknown, pooled: PooledResource<T>): boolean {
        const now = Date.now();
        if ((meta.get(pooled.obj)?.expiresAt ?? 0) <= now) return flag(pooled.obj, EXPIRED);
        return now - pooled.lastIdleTime >= idleTimeout && host.aboveMin() && flag(pooled.obj, IDLE);
      }
    }
    const flag = (r: T, reason: string): true => (reasons.set(r, reason), true);
    const factory: Factory<T> = {
      create: () => {
        if (!this.#handing) return Promise.reject(new InvalidStateError('generic-pool created unasked'));
        const r = this.#handoff as T;
        this.#handing = false;
        this.#handoff = undefined;
        return Promise.resolve(r);
      },
      destroy: (r) => {
        const reason = reasons.get(r);
        reasons.delete(r);
        this.#meta.delete(r);
        host.dispose(r, reason);
        return Promise.resolve();
      },
    };
    const shortest = Math.min(config.idleTimeout, config.maxLifetime);
    this.#gp = new gp.Pool(LifetimeEvictor, gp.Deque, gp.PriorityQueue, factory, {
      max: config.max,
      min: 0,
      fifo: false, // LIFO: hot resources are reused, the surplus ages out
      autostart: true,
      // The sweep's period bounds how late an eviction can be: ≤ 1 s, or half the shortest limit.
      evictionRunIntervalMillis: shortest === Infinity ? 0 : Math.max(10, Math.min(1000, shortest / 2)),
      numTestsPerEvictionRun: config.max,
    });
  }

  get idle(): number {
    return this.#gp.available + (this.#hot === undefined ? 0 : 1);
  }

  /**
   * Borrows an idle resource; only call when `idle > 0`. Synchronous in practice: with nobody
   * waiting inside it, generic-pool lends the head of its idle list within `acquire()` (only the
   * promise settles later), and `isBorrowedResource` confirms it; otherwise the promise is returned.
   * (A resource that is itself a native Promise would be mistaken for the latter: pool none.)
   */
  borrowIdle(): T | Promise<T> {
    const hot = this.#hot;
    if (hot !== undefined) {
      this.#hot = undefined;
      return hot;
    }
    const next =
      this.#gp.pending === 0
        ? (this.#gp as unknown as GpInternals<T>)._availableObjects?.head?.obj
        : undefined;
    const lent = this.#gp.acquire();
    return next !== undefined && this.#gp.isBorrowedResource(next) ? next : lent;
  }

  /**
   * Borrows an idle resource only if that can happen synchronously (one is idle and nobody waits
   * inside generic-pool); `undefined` otherwise, with nothing borrowed.
   */
  borrowIdleNow(): T | undefined {
    if (this.#hot === undefined && (this.#gp.pending !== 0 || this.#gp.available === 0)) return undefined;
    const lent = this.borrowIdle();
    if (!(lent instanceof Promise)) return lent;
    // Not expected (see borrowIdle): give it straight back rather than hold it.
    lent.then(
      (r) => this.release(r),
      () => undefined, // generic-pool draining: nothing to give back
    );
    return undefined;
  }

  /** Starts tracking a fresh resource (its lifetime starts now). */
  track(r: T): void {
    const { maxLifetime, lifetimeJitter } = this.#config;
    this.#meta.set(r, {
      expiresAt: Date.now() + maxLifetime * (1 - lifetimeJitter * Math.random()),
      uses: 0,
    });
  }

  /** Hands a fresh (tracked) resource to generic-pool and borrows one: that one, or an idle one. */
  add(r: T): Promise<T> {
    this.#handoff = r;
    this.#handing = true;
    const borrowed = this.#gp.acquire();
    // generic-pool serves idle resources before it creates: while some were idle (made by callers who
    // gave up meanwhile), borrow-and-return them until it asks for the fresh one. Bounded: each
    // call either takes an idle resource or creates.
    for (let n = this.#gp.available + 1; this.#handing && n > 0; n--) {
      void this.#gp.acquire().then((x) => this.#gp.release(x));
    }
    if (this.#handing) {
      this.#handing = false;
      this.#handoff = undefined;
      this.#meta.delete(r);
      this.#host.dispose(r, new InvalidStateError('generic-pool refused a resource within max'));
    }
    return borrowed;
  }

  /**
   * Counts one use of a lent resource and says whether it must be retired (maxUses, lifetime).
   * `undefined` when it may go back.
   */
  retireReason(r: T, maxUses: number, countUse: boolean): string | undefined {
    const meta = this.#meta.get(r);
    if (meta === undefined) return 'untracked';
    if (countUse && ++meta.uses >= maxUses) return 'max uses';
    return meta.expiresAt <= Date.now() ? EXPIRED : undefined;
  }

  /** Takes back a lent resource as idle (held for the rest of this turn, then generic-pool's). */
  release(r: T): void {
    // The newest is held, the one it displaces goes on generic-pool's LIFO list: lending order stays
    // most recently released first.
    if (this.#hot !== undefined) void this.#gp.release(this.#hot);
    this.#hot = r;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushHot);
    }
  }

  /** Destroys a lent resource (generic-pool calls back `host.dispose`). */
  destroy(r: T, reason: unknown): void {
    this.#reasons.set(r, reason);
    void this.#gp.destroy(r);
  }

  /** Destroys every idle resource and stops the eviction sweep. */
  async close(): Promise<void> {
    this.#flushHot();
    // Not generic-pool's clear(): it destroys the idle resources but leaves them counted as available.
    const idle: Promise<T>[] = [];
    for (let n = this.#gp.available; n > 0; n--) idle.push(this.#gp.acquire());
    for (const r of await Promise.all(idle)) this.destroy(r, 'pool closed');
    await this.#gp.drain();
  }
}
