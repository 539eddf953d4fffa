/**
 * The contract between a {@link Pool} and what it pools: the factory, the options, the stats.
 * @module
 */
import type { BackoffOptions } from './retry.js';

/**
 * Makes, checks and disposes of the resources a {@link Pool} holds (connections, channels…).
 * Resources must be distinct values (objects): the pool keys its bookkeeping on them.
 *
 * @example
 * ```ts
 * const factory: PoolFactory<pg.Client> = {
 *   async create(signal) { const c = new pg.Client(cfg); await c.connect(); return c; },
 *   destroy: (c) => c.end(),
 *   validate: (c) => !c.ended,
 *   reset: async (c) => (await c.query('select 1')).rowCount === 1,
 * };
 * ```
 */
export interface PoolFactory<T> {
  /**
   * Makes a resource. `signal` aborts when the acquirer that asked for it gives up or the pool
   * closes; honour it so a hanging connect does not hold a slot. A resource delivered after the
   * abort is not lost: the pool keeps it idle or destroys it.
   */
  create(signal: AbortSignal): Promise<T>;
  /** Disposes of a resource. Errors are reported on the pool's `'error'` event, never thrown. */
  destroy(resource: T): Promise<void>;
  /** Checked before an idle resource is lent again; `false` or a throw → destroyed and replaced. */
  validate?(resource: T): boolean | Promise<boolean>;
  /**
   * Checked when a lease is released (e.g. "this pg client is not left inside a transaction");
   * `false` or a throw → the resource is destroyed instead of going back to the idle list.
   */
  reset?(resource: T): boolean | Promise<boolean>;
}

/**
 * Options of {@link Pool}. Durations are milliseconds.
 *
 * @example
 * ```ts
 * new Pool(factory, { name: 'pg', max: 20, min: 2, acquireTimeout: 5000, idleTimeout: 60_000 });
 * ```
 */
export interface PoolOptions<T = unknown> {
  /** Most resources alive at once (idle, lent or being made). @default 10 */
  max?: number | undefined;
  /** Resources kept warm even when idle (made in the background, ≤ `max`). @default 0 */
  min?: number | undefined;
  /** Default `timeout` of `acquire()`/`use()` when the caller gives none, in ms. @default 10_000 */
  acquireTimeout?: number | undefined;
  /** Most callers queued for a slot; beyond it `acquire()` rejects at once with `QueueFullError`. @default Infinity */
  maxWaiting?: number | undefined;
  /**
   * An idle resource is destroyed after this long unused, in ms, as long as more than `min` are idle
   * (generic-pool's soft idle timeout). @default 30_000
   */
  idleTimeout?: number | undefined;
  /**
   * Age after which a resource is retired (when idle, or when released), in ms. Each resource gets
   * its own lifetime, shortened by up to `lifetimeJitter`, so a fleet does not expire together.
   * @default 1_800_000
   */
  maxLifetime?: number | undefined;
  /** Fraction in [0, 1] by which each resource's lifetime is randomly shortened. @default 0.1 */
  lifetimeJitter?: number | undefined;
  /** A resource is destroyed after being lent this many times. @default Infinity */
  maxUses?: number | undefined;
  /** Name used in messages (`Pool "pg" acquire timed out…`). @default 'pool' */
  name?: string | undefined;
  /** Tries of `factory.create` per acquirer, the first included; then the acquirer rejects with the error. @default 3 */
  createAttempts?: number | undefined;
  /** Backoff between create tries (see `backoffDelay`). @default { initialDelay: 100, maxDelay: 5000, jitter: 'equal' } */
  createBackoff?: BackoffOptions | undefined;
  /** `use()`: when `fn` throws and this returns true, the resource is destroyed, not reused. @default never */
  isBroken?: ((error: unknown, resource: T) => boolean) | undefined;
  /** A lease held longer than this is reported on `'leak'` with the stack that acquired it, in ms. @default Infinity (off) */
  leakTimeout?: number | undefined;
  /** Default `timeout` of `close()`, in ms: how long lent resources are waited for. @default 10_000 */
  closeTimeout?: number | undefined;
  /**
   * Report OpenTelemetry's connection-pool metrics (`db.client.connection.count` by state,
   * `…pending_requests`, `…limit`, `…idle.min`, `…timeouts`, `…wait_time`, labelled with `name` as
   * `db.client.connection.pool.name`) when `@opentelemetry/api` is installed and a MeterProvider is
   * registered before the pool is made. Those names are the conventions' for database connection
   * pools: set `false` for a pool of something else. @default true
   */
  metrics?: boolean | undefined;
}

/**
 * A snapshot of a pool, from {@link Pool.stats}.
 *
 * @example
 * ```ts
 * const { borrowed, pending, max } = pool.stats();
 * if (pending > 0 && borrowed === max) log.warn('pool saturated');
 * ```
 */
export interface PoolStats {
  /** Resources alive or being made (`idle` + lent + checking + being made). */
  size: number;
  /** Resources waiting in the idle list. */
  idle: number;
  /** Leases held by callers. */
  borrowed: number;
  /** `acquire()` calls not settled yet (queued for a slot or waiting for a resource). */
  pending: number;
  max: number;
  min: number;
  /** Resources made since the pool started. */
  created: number;
  /** Resources handed to `factory.destroy` since the pool started. */
  destroyed: number;
  /** Failed `factory.create` calls. */
  createErrors: number;
  /** `acquire()` calls that timed out. */
  timeouts: number;
}

/**
 * The events a {@link Pool} emits. `'error'` is only emitted when someone listens, so an
 * unobserved pool never crashes the process.
 *
 * @example
 * ```ts
 * pool.on('error', (err) => log.warn({ err }, 'pool'));
 * pool.on('leak', (err) => log.warn(err.stack));
 * ```
 */
export interface PoolEvents<T> {
  /** A resource was made. */
  create: [resource: T];
  /** A resource is being destroyed; `reason` says why when known. */
  destroy: [resource: T, reason: unknown];
  /** A factory call failed (create, destroy, validate, reset) outside any caller's promise. */
  error: [error: unknown];
  /** An acquire timed out (the caller gets the same error). */
  acquireTimeout: [error: Error];
  /** A lease was held past `leakTimeout`; the error's stack is where it was acquired. */
  leak: [error: Error];
}
