/**
 * {@link Pool}: generic-pool behind a BoundedSemaphore — fair, cancellable, never hangs.
 *
 * This file is the public face (arguments, routing, stats); the machinery is internal:
 * `pool-core.ts` (state, give-back path), `slot-queue.ts` (callers waiting for a slot),
 * `pool-obtain.ts` (acquire path, creation, warm-up), `pool-close.ts`, `resource-store.ts`
 * (generic-pool as idle list and eviction sweep).
 * @module
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { QueueFullError } from './errors.js';
import { Lease } from './lease.js';
import { checkDuration, checkSignal, describeValue } from './options.js';
import type { WaitOptions } from './options.js';
import type { PoolEvents, PoolFactory, PoolOptions, PoolStats } from './pool-options.js';
import { linkSignals } from './internal/link-signals.js';
import { shutdown } from './internal/pool-close.js';
import { checkFactory, resolvePoolConfig } from './internal/pool-config.js';
import { DONE, PoolCore } from './internal/pool-core.js';
import { ensureMin, granted, tryLend, withSlot } from './internal/pool-obtain.js';
import { SlotWaiter } from './internal/slot-queue.js';

export { Lease };

/**
 * A pool of resources (connections, channels…). Callers queue in a `BoundedSemaphore(max)` — FIFO,
 * with `signal` and `timeout` — before generic-pool is asked, so generic-pool never holds a waiter
 * nobody wants; generic-pool keeps the idle list and evicts idle and aged resources. Creation is the
 * pool's own: a failing `factory.create` is retried a bounded number of times with backoff, then the
 * waiting caller rejects with its error; with nobody waiting nothing is retried.
 *
 * Events (`on(...)`): `create`, `destroy`, `error` (only emitted when listened to), `acquireTimeout`, `leak`.
 *
 * @example
 * ```ts
 * await using pool = new Pool(factory, { name: 'pg', max: 10, acquireTimeout: 5000 });
 * const n = await pool.use((client, signal) => client.count({ signal }), { timeout: 2000 });
 * ```
 */
export class Pool<T> extends EventEmitter<PoolEvents<T>> {
  readonly #core: PoolCore<T>;
  #closing: Promise<void> | undefined = undefined;
  /** One continuation shared by every queued caller (no closure per call). */
  readonly #granted: (w: SlotWaiter<T>) => Lease<T> | Promise<Lease<T>>;

  /**
   * @param factory makes, checks and disposes of the resources.
   * @param options see {@link PoolOptions}; validated here (TypeError/RangeError quoting the value).
   */
  constructor(factory: PoolFactory<T>, options?: PoolOptions<T>) {
    super();
    checkFactory(factory);
    const core = new PoolCore<T>(this, factory, resolvePoolConfig(options));
    this.#core = core;
    this.#granted = (w) => granted(core, w);
    core.keepWarm = () => ensureMin(core);
    // Every `use()` with a signal of its own listens on the reclaim signal while it runs.
    setMaxListeners(0, core.reclaim.signal);
    // Let the caller attach listeners before the warm-up starts.
    if (core.cfg.min > 0) queueMicrotask(core.keepWarm);
  }

  /**
   * Borrows a resource: an idle one (checked with `factory.validate`) or a new one. Waits FIFO for a
   * slot when `max` are out; `timeout` (default `acquireTimeout`) bounds the whole wait and rejects
   * with `TimeoutError`; `signal` rejects with its reason; `timeout: 0` takes a slot only if one is
   * free at once. Rejects with `PoolClosedError` once the pool closes, `QueueFullError` beyond
   * `maxWaiting`, or the factory's error when `create` failed `createAttempts` times.
   *
   * @example
   * ```ts
   * await using lease = await pool.acquire({ signal, timeout: 1000 });
   * await lease.resource.send(data);
   * ```
   */
  acquire(opts?: WaitOptions): Promise<Lease<T>> {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a stack-frame marker, never called
    const req = this.#request(opts, this.acquire);
    return req instanceof SlotWaiter ? req.promise.then(this.#granted) : req;
  }

  /**
   * Borrows an idle resource at once, without waiting and without creating one — the pool's
   * counterpart of `Semaphore.tryAcquire()`. `undefined` when none is idle, when callers are queued
   * (they keep their turn), or when `factory.validate` answers asynchronously. Throws
   * `PoolClosedError` once the pool is closing. Saves the promise and the turn of the microtask
   * queue that `acquire()` costs, for hot paths that fall back to `acquire()`.
   *
   * @example
   * ```ts
   * const lease = pool.tryAcquire() ?? (await pool.acquire({ signal, timeout: 1000 }));
   * try { await lease.resource.send(data); } finally { await lease.release(); }
   * ```
   */
  tryAcquire(): Lease<T> | undefined {
    const core = this.#core;
    if (this.#closing) throw core.closedError();
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a stack-frame marker, never called
    return tryLend(core, this.tryAcquire);
  }

  /**
   * Runs `fn` with a borrowed resource and always gives it back — on success, throw and abort. When
   * `fn` throws and the `isBroken` option says the error broke the resource, it is destroyed.
   * `fn`'s `signal` aborts with `opts.signal` or when `close()` reclaims the resource.
   *
   * @example
   * ```ts
   * const rows = await pool.use((client, signal) => client.query(sql, { signal }), { timeout: 5000 });
   * ```
   */
  use<R>(fn: (resource: T, signal: AbortSignal) => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a stack-frame marker, never called
    return this.#use(this.#request(opts, this.use), fn, opts?.signal);
  }

  /**
   * A snapshot of the pool's counters.
   *
   * @example
   * ```ts
   * console.log(pool.stats()); // { size: 3, idle: 1, borrowed: 2, pending: 0, max: 10, … }
   * ```
   */
  stats(): PoolStats {
    const core = this.#core;
    return {
      size: core.live + core.creating,
      idle: core.store.idle,
      borrowed: core.leases.size,
      pending: core.queue.length + core.pending.size,
      max: core.cfg.max,
      min: core.cfg.min,
      created: core.created,
      destroyed: core.destroyed,
      createErrors: core.createErrors,
      timeouts: core.timeouts,
    };
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Closes the pool: pending and new acquirers reject with `PoolClosedError` at once; lent resources
   * are waited for up to `timeout` (default `closeTimeout`), then destroyed (their lease's `signal`
   * aborts); idle ones are destroyed. Resolves when every factory call has settled — rejects with
   * `TimeoutError` if factory calls are still running `timeout` ms after that. Idempotent.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void pool.close({ timeout: 5000 }));
   * ```
   */
  close(opts?: { timeout?: number | undefined }): Promise<void> {
    const timeout = checkDuration(opts?.timeout, 'timeout', this.#core.cfg.closeTimeout);
    return (this.#closing ??= shutdown(this.#core, timeout));
  }

  /**
   * `await using pool = new Pool(…)` closes it when the scope ends.
   *
   * @example
   * ```ts
   * { await using pool = new Pool(factory); await pool.use(work); }
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Takes a free slot (FIFO: only when nobody queues — a released slot goes to the queue first) and
   * starts getting a resource, or queues the caller. Bad options throw; every other failure is a
   * rejected promise. `marker` starts the stack of the leak warning.
   */
  #request(
    opts: WaitOptions | undefined,
    marker: (...args: never[]) => unknown,
  ): Promise<Lease<T>> | SlotWaiter<T> {
    const core = this.#core;
    const signal = checkSignal(opts?.signal);
    const timeout = checkDuration(opts?.timeout, 'timeout', core.cfg.acquireTimeout);
    if (this.#closing) return Promise.reject(core.closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const origin = core.cfg.leakTimeout === Infinity ? undefined : core.leakError(marker);
    if (core.queue.length === 0 && core.sem.tryAcquire()) {
      // With a slot free at once, `timeout: 0` still lets creation run its course (bounded by the default).
      const ms = timeout || core.cfg.acquireTimeout;
      try {
        return Promise.resolve(withSlot(core, signal, ms, ms === Infinity ? ms : Date.now() + ms, origin));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (timeout === 0) return Promise.reject(core.timeoutError(0, undefined));
    if (core.queue.length >= core.cfg.maxWaiting) {
      return Promise.reject(
        new QueueFullError(
          `Pool "${core.cfg.name}" has ${core.queue.length} callers waiting (maxWaiting ${core.cfg.maxWaiting})`,
        ),
      );
    }
    return core.queue.wait(signal, timeout, origin);
  }

  async #use<R>(
    req: Promise<Lease<T>> | SlotWaiter<T>,
    fn: (resource: T, signal: AbortSignal) => R | PromiseLike<R>,
    signal: AbortSignal | undefined,
  ): Promise<R> {
    let lease: Lease<T>;
    if (req instanceof SlotWaiter) {
      // Queued: continue here once granted, rather than through acquire()'s extra promise.
      const got = granted(this.#core, await req.promise);
      lease = got instanceof Lease ? got : await got;
    } else {
      lease = await req;
    }
    const link = signal === undefined ? undefined : linkSignals(signal, lease.signal);
    let result: R;
    try {
      result = await fn(lease.resource, link?.signal ?? lease.signal);
    } catch (err) {
      link?.unlink();
      if (this.#core.isBroken(err, lease.resource)) await lease.destroy(err);
      else await lease.release();
      throw err;
    }
    link?.unlink();
    const back = lease.release();
    if (back !== DONE) await back; // saves a turn of the microtask queue per use in the common case
    return result;
  }
}
