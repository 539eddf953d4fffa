/**
 * Internal: the Pool's options with defaults applied, validated in one place.
 * @module
 */
import { checkDuration, checkInteger, describeValue } from '../options.js';
import { backoffDelay } from '../retry.js';
import type { BackoffOptions } from '../retry.js';
import type { PoolFactory, PoolOptions } from '../pool-options.js';

/**
 * {@link PoolOptions} with every default applied.
 *
 * @example
 * ```ts
 * const cfg: PoolConfig<Conn> = resolvePoolConfig({ max: 4 }); // cfg.acquireTimeout === 10_000
 * ```
 */
export interface PoolConfig<T> {
  max: number;
  min: number;
  acquireTimeout: number;
  maxWaiting: number;
  idleTimeout: number;
  maxLifetime: number;
  lifetimeJitter: number;
  maxUses: number;
  name: string;
  createAttempts: number;
  createBackoff: BackoffOptions;
  isBroken: ((error: unknown, resource: T) => boolean) | undefined;
  leakTimeout: number;
  closeTimeout: number;
  metrics: boolean;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialDelay: 100, maxDelay: 5000, jitter: 'equal' };

function checkFunction(value: unknown, name: string, optional: boolean): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'function')
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
}

/**
 * Checks a {@link PoolFactory}: throws TypeError quoting the bad value.
 *
 * @example
 * ```ts
 * checkFactory({ create: 1 }); // TypeError: factory.create must be a function, got 1
 * ```
 */
export function checkFactory(factory: unknown): void {
  if (factory === null || typeof factory !== 'object') {
    throw new TypeError(`Pool factory must be an object, got ${describeValue(factory)}`);
  }
  const f = factory as Partial<Record<keyof PoolFactory<unknown>, unknown>>;
  checkFunction(f.create, 'factory.create', false);
  checkFunction(f.destroy, 'factory.destroy', false);
  checkFunction(f.validate, 'factory.validate', true);
  checkFunction(f.reset, 'factory.reset', true);
}

/**
 * Applies the defaults of {@link PoolOptions} and validates every field (TypeError/RangeError).
 *
 * @example
 * ```ts
 * resolvePoolConfig({ max: 2, min: 3 }); // RangeError: min must be ≤ max (2), got 3
 * ```
 */
export function resolvePoolConfig<T>(opts: PoolOptions<T> | undefined): PoolConfig<T> {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) {
    throw new TypeError(`Pool options must be an object, got ${describeValue(opts)}`);
  }
  const o = opts ?? {};
  const max = checkInteger(o.max, 'max', 10, 1);
  const min = checkInteger(o.min, 'min', 0, 0);
  if (min > max) throw new RangeError(`min must be ≤ max (${max}), got ${describeValue(min)}`);
  const jitter = o.lifetimeJitter ?? 0.1;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(`lifetimeJitter must be a number in [0, 1], got ${describeValue(jitter)}`);
  }
  const name = o.name ?? 'pool';
  if (typeof name !== 'string') throw new TypeError(`name must be a string, got ${describeValue(name)}`);
  checkFunction(o.isBroken, 'isBroken', true);
  const metrics = o.metrics ?? true;
  if (typeof metrics !== 'boolean')
    throw new TypeError(`metrics must be a boolean, got ${describeValue(metrics)}`);
  const createBackoff = { ...DEFAULT_BACKOFF, ...o.createBackoff };
  backoffDelay(1, createBackoff); // validates it now rather than on the first failure
  return {
    max,
    min,
    acquireTimeout: checkDuration(o.acquireTimeout, 'acquireTimeout', 10_000),
    maxWaiting: checkInteger(o.maxWaiting, 'maxWaiting', Infinity, 0, Infinity),
    idleTimeout: checkDuration(o.idleTimeout, 'idleTimeout', 30_000),
    maxLifetime: checkDuration(o.maxLifetime, 'maxLifetime', 1_800_000),
    lifetimeJitter: jitter,
    maxUses: checkInteger(o.maxUses, 'maxUses', Infinity, 1, Infinity),
    name,
    createAttempts: checkInteger(o.createAttempts, 'createAttempts', 3, 1),
    createBackoff,
    isBroken: o.isBroken,
    leakTimeout: checkDuration(o.leakTimeout, 'leakTimeout', Infinity),
    closeTimeout: checkDuration(o.closeTimeout, 'closeTimeout', 10_000),
    metrics,
  };
}
