/**
 * Internal: a {@link Pool}'s calls to its factory — `create` with bounded, backed-off retries,
 * `validate` and `reset` (synchronous when the factory is), `destroy` tracked until it settles — and
 * the counters and events that go with them. A factory that throws never breaks the pool: what no
 * caller can receive is reported on the pool's `'error'` event.
 * @module
 */
import type { PoolEvents, PoolFactory } from '../pool-options.js';
import { backoffDelay } from '../retry.js';
import { sleep } from '../timeout.js';
import type { PoolConfig } from './pool-config.js';

/**
 * What the maker tells its pool.
 *
 * @example
 * ```ts
 * const host: MakerHost<Conn> = { emit: (e, ...a) => pool.emit(e, ...a), report: log, settled() {}, disposed() {} };
 * ```
 */
export interface MakerHost<T> {
  /** Emits a pool event (never throws). */
  emit<K extends keyof PoolEvents<T>>(event: K, ...args: PoolEvents<T>[K]): void;
  /** An error nobody waits for (a failed destroy, validate or reset). */
  report(error: unknown): void;
  /** A resource stopped being the pool's (`min` may need a new one). */
  disposed(): void;
  /** A `destroy` call settled. */
  settled(): void;
}

/**
 * The factory of a pool, called safely and counted.
 *
 * @example
 * ```ts
 * const maker = new ResourceMaker(factory, cfg, host);
 * const conn = await maker.create(signal); // retried with backoff; rejects with the last error
 * if (maker.validate(conn) === true) lend(conn);
 * ```
 */
export class ResourceMaker<T> {
  readonly #factory: PoolFactory<T>;
  readonly #cfg: PoolConfig<T>;
  readonly #host: MakerHost<T>;
  readonly #destroying = new Set<Promise<void>>();
  #live = 0;
  #creating = 0;
  #created = 0;
  #destroyed = 0;
  #createErrors = 0;

  constructor(factory: PoolFactory<T>, cfg: PoolConfig<T>, host: MakerHost<T>) {
    this.#factory = factory;
    this.#cfg = cfg;
    this.#host = host;
  }

  /** Resources made and not yet disposed of. */
  get live(): number {
    return this.#live;
  }
  /** `create` calls running (retries included). */
  get creating(): number {
    return this.#creating;
  }
  get created(): number {
    return this.#created;
  }
  get destroyed(): number {
    return this.#destroyed;
  }
  get createErrors(): number {
    return this.#createErrors;
  }
  /** `destroy` calls not settled yet. */
  get destroying(): number {
    return this.#destroying.size;
  }

  /**
   * Makes a resource, retrying up to `createAttempts` with backoff; stops at once when `signal`
   * aborts. `failed` hears every failed attempt (the cause of a timeout while retrying).
   */
  async create(signal: AbortSignal, failed?: (error: unknown) => void): Promise<T> {
    this.#creating++;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await this.#factory.create(signal);
          this.#live++;
          this.#created++;
          this.#host.emit('create', r);
          return r;
        } catch (err) {
          this.#createErrors++;
          failed?.(err);
          signal.throwIfAborted();
          if (attempt >= this.#cfg.createAttempts) throw err;
        }
        await sleep(backoffDelay(attempt, this.#cfg.createBackoff), { signal });
      }
    } finally {
      this.#creating--;
    }
  }

  /** `factory.validate`: synchronous when it is; a throw counts as `false` (and is reported). */
  validate(r: T): boolean | Promise<boolean> {
    if (this.#factory.validate === undefined) return true;
    let result: boolean | Promise<boolean>;
    try {
      result = this.#factory.validate(r);
    } catch (err) {
      this.#host.report(err);
      return false;
    }
    if (typeof (result as { then?: unknown } | null | undefined)?.then !== 'function')
      return result !== false;
    return Promise.resolve(result).then(
      (ok) => ok !== false,
      (err: unknown) => {
        this.#host.report(err);
        return false;
      },
    );
  }

  /** Whether the factory resets resources on release. */
  get resets(): boolean {
    return this.#factory.reset !== undefined;
  }

  /** `factory.reset`: `false` or a throw (reported) means the resource must go. */
  async reset(r: T): Promise<boolean> {
    try {
      return (await this.#factory.reset?.(r)) !== false;
    } catch (err) {
      this.#host.report(err);
      return false;
    }
  }

  /** Disposes of a resource that stops being the pool's: `'destroy'` event, then `factory.destroy`. */
  dispose(r: T, reason: unknown): void {
    this.#live--;
    this.#destroyed++;
    this.#host.emit('destroy', r, reason);
    const op = (async () => this.#factory.destroy(r))()
      .catch((err: unknown) => this.#host.report(err))
      .finally(() => {
        this.#destroying.delete(op);
        this.#host.settled();
      });
    this.#destroying.add(op);
    this.#host.disposed();
  }
}
