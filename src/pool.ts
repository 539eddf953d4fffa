/**
 * {@link Pool}: generic-pool behind a BoundedSemaphore — fair, cancellable, never hangs.
 *
 * The Pool checks arguments, queues callers and runs `use()`; its parts are internal: `slot-queue.ts`
 * (the slots and the callers waiting for one), `lender.ts` (a slot → a lease; warm-up; close),
 * `lease-book.ts` (leases out, and back), `resource-store.ts` (idle resources, in generic-pool),
 * `resource-maker.ts` (factory calls, retries, counters), `pool-telemetry.ts` (the
 * `connkit:pool:acquire` channel and the metrics).
 * @module
 */
import { EventEmitter } from 'node:events';
import { QueueFullError } from './errors.js';
import { DONE, Lease } from './lease.js';
import { checkDuration, checkSignal, describeValue } from './options.js';
import type { WaitOptions } from './options.js';
import type { PoolEvents, PoolFactory, PoolOptions, PoolStats } from './pool-options.js';
import { LeaseBook } from './internal/lease-book.js';
import { Lender } from './internal/lender.js';
import { linkSignals } from './internal/link-signals.js';
import { checkFactory, resolvePoolConfig } from './internal/pool-config.js';
import type { PoolConfig } from './internal/pool-config.js';
import { PoolVoice } from './internal/pool-events.js';
import { PoolTelemetry } from './internal/pool-telemetry.js';
import { ResourceMaker } from './internal/resource-maker.js';
import { ResourceStore } from './internal/resource-store.js';
import { SlotQueue, SlotWaiter } from './internal/slot-queue.js';
import { now } from './internal/timer.js';

export { Lease };

/**
 * A pool of resources (connections, channels…). Callers queue for one of `max` slots — FIFO, with
 * `signal` and `timeout` — before generic-pool is asked, so generic-pool never holds a waiter nobody
 * wants; generic-pool keeps the idle list and evicts idle resources. Creation is the pool's own: a
 * failing `factory.create` is retried a bounded number of times with backoff, then the waiting caller
 * rejects with its error; with nobody waiting nothing is retried.
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
  readonly #cfg: PoolConfig<T>;
  readonly #maker: ResourceMaker<T>;
  readonly #store: ResourceStore<T>;
  readonly #slots: SlotQueue<T>;
  readonly #book: LeaseBook<T>;
  readonly #lender: Lender<T>;
  /** The borrow observers (channel, metrics); `active` false when there are none. */
  readonly #telemetry: PoolTelemetry<T>;
  readonly #voice: PoolVoice<T>;
  #closing: Promise<void> | undefined = undefined;

  /**
   * @param factory makes, checks and disposes of the resources.
   * @param options see {@link PoolOptions}; validated here (TypeError/RangeError quoting the value).
   */
  constructor(factory: PoolFactory<T>, options?: PoolOptions<T>) {
    super();
    checkFactory(factory);
    const cfg = resolvePoolConfig(options);
    this.#cfg = cfg;
    const state = {
      name: cfg.name,
      max: cfg.max,
      borrowed: () => this.#book.size,
      waiting: () => this.#slots.waiting,
    };
    this.#voice = new PoolVoice<T>(this, state);
    this.#telemetry = new PoolTelemetry<T>(state, new WeakRef(this), cfg.metrics);
    const report = (err: unknown): void => this.#voice.report(err);
    const maker = (this.#maker = new ResourceMaker<T>(factory, cfg, {
      emit: (event, ...args) => this.#voice.emit(event, ...args),
      report,
      disposed: () => cfg.min > 0 && queueMicrotask(this.#lender.keepWarm),
      settled: () => this.#lender.quieter(),
    }));
    const store = (this.#store = new ResourceStore<T>((r, reason) => maker.dispose(r, reason), cfg));
    const slots = (this.#slots = new SlotQueue<T>(cfg.max, {
      timeoutError: (w) => this.#voice.timeoutError(w.ms, undefined, 1),
      freed: () => this.#lender.quieter(),
    }));
    this.#book = new LeaseBook<T>(cfg, slots, store, maker, (origin) => this.#voice.emit('leak', origin));
    this.#lender = new Lender<T>(cfg, slots, store, maker, this.#book, {
      timeoutError: (ms, cause) => this.#voice.timeoutError(ms, cause),
      closedError: () => this.#voice.closedError(),
      report,
    });
    // Let the caller attach listeners before the warm-up starts.
    if (cfg.min > 0) queueMicrotask(this.#lender.keepWarm);
  }

  /**
   * Borrows a resource: an idle one (checked with `factory.validate`) or a new one. Waits FIFO for a
   * slot when `max` are out; `timeout` (default `acquireTimeout`) bounds the whole wait and rejects
   * with `TimeoutError`; `signal` rejects with its reason; `timeout: 0` only lends a resource that
   * is idle now and validates synchronously — it never waits for a slot or a create. Rejects with
   * `PoolClosedError` once the pool closes, `QueueFullError` beyond `maxWaiting`, or the factory's
   * error when `create` failed `createAttempts` times.
   *
   * @example
   * ```ts
   * await using lease = await pool.acquire({ signal, timeout: 1000 });
   * await lease.resource.send(data);
   * ```
   */
  acquire(opts?: WaitOptions): Promise<Lease<T>> {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a stack-frame marker, never called
    const marker = this.acquire;
    if (!this.#telemetry.active) return this.#borrow(opts, marker);
    return this.#telemetry.borrow('acquire', this.#timeoutOf(opts), () => this.#borrow(opts, marker));
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
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a stack-frame marker, never called
    const marker = this.tryAcquire;
    const borrow = (): Lease<T> | undefined => {
      if (this.#closing) throw this.#voice.closedError();
      return this.#lender.lendIdleNow(marker);
    };
    return this.#telemetry.active ? this.#telemetry.tryBorrow(borrow) : borrow();
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
    const marker = this.use;
    const telemetry = this.#telemetry;
    if (telemetry.traced) {
      const borrowed = telemetry.borrow('use', this.#timeoutOf(opts), () => this.#borrow(opts, marker));
      return this.#use(borrowed, fn, opts?.signal);
    }
    // With metrics on, #use records the wait itself once it holds the lease (no promise in between).
    const started = telemetry.metrics === undefined ? undefined : now();
    return this.#use(this.#request(opts, marker), fn, opts?.signal, started);
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
    const maker = this.#maker;
    return {
      size: maker.live + maker.creating,
      idle: this.#store.idle,
      borrowed: this.#book.size,
      pending: this.#slots.waiting + this.#lender.working,
      max: this.#cfg.max,
      min: this.#cfg.min,
      created: maker.created,
      destroyed: maker.destroyed,
      createErrors: maker.createErrors,
      timeouts: this.#voice.timeouts,
    };
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Closes the pool: pending and new acquirers reject with `PoolClosedError` at once; lent resources
   * are waited for up to `timeout` (default `closeTimeout`; `0`: only those given back within this
   * turn of the microtask queue), then destroyed (their lease's `signal` aborts); idle ones are
   * destroyed. Resolves when every factory call has settled — rejects with `TimeoutError` if factory
   * calls are still running `timeout` ms after that. Idempotent.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void pool.close({ timeout: 5000 }));
   * ```
   */
  close(opts?: { timeout?: number | undefined }): Promise<void> {
    const timeout = checkDuration(opts?.timeout, 'timeout', this.#cfg.closeTimeout);
    this.#telemetry.close();
    return (this.#closing ??= this.#lender.shutdown(timeout));
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

  /** `acquire()` without telemetry: the lease, or the queued caller's way to it. */
  #borrow(opts: WaitOptions | undefined, marker: (...args: never[]) => unknown): Promise<Lease<T>> {
    const req = this.#request(opts, marker);
    return req instanceof SlotWaiter ? req.promise.then(this.#lender.resume) : req;
  }

  /** The timeout a borrow waits at most (for the channel's context). */
  #timeoutOf(opts: WaitOptions | undefined): number {
    return opts?.timeout ?? this.#cfg.acquireTimeout;
  }

  /**
   * Takes a free slot (only when nobody queues) and starts getting a resource, or queues the caller.
   * Bad options throw; every other failure is a rejected promise. `marker` starts the leak stack.
   */
  #request(
    opts: WaitOptions | undefined,
    marker: (...args: never[]) => unknown,
  ): Promise<Lease<T>> | SlotWaiter<T> {
    const cfg = this.#cfg;
    const signal = checkSignal(opts?.signal);
    const timeout = checkDuration(opts?.timeout, 'timeout', cfg.acquireTimeout);
    if (this.#closing) return Promise.reject(this.#voice.closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (timeout === 0) {
      // "Only if it can be had at once": an idle resource that validates now, never a create.
      const lease = this.#lender.lendIdleNow(marker);
      return lease !== undefined
        ? Promise.resolve(lease)
        : Promise.reject(this.#voice.timeoutError(0, undefined));
    }
    const origin = this.#book.leakOrigin(marker);
    if (this.#slots.take()) {
      try {
        return Promise.resolve(this.#lender.withSlot({ signal, ms: timeout, deadline: undefined, origin }));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.#slots.waiting >= cfg.maxWaiting) {
      const msg = `Pool "${cfg.name}" has ${this.#slots.waiting} callers waiting (maxWaiting ${cfg.maxWaiting})`;
      return Promise.reject(new QueueFullError(msg));
    }
    return this.#slots.wait(signal, timeout, origin);
  }

  async #use<R>(
    req: Promise<Lease<T>> | SlotWaiter<T>,
    fn: (resource: T, signal: AbortSignal) => R | PromiseLike<R>,
    signal: AbortSignal | undefined,
    started?: number,
  ): Promise<R> {
    let lease: Lease<T>;
    if (req instanceof SlotWaiter) {
      // Queued: continue here once granted, rather than through acquire()'s extra promise.
      const got = this.#lender.resume(await req.promise);
      lease = got instanceof Lease ? got : await got;
    } else {
      lease = await req;
    }
    if (started !== undefined) this.#telemetry.waited(now() - started);
    const link = signal === undefined ? undefined : linkSignals(signal, lease.signal);
    let result: R;
    try {
      result = await fn(lease.resource, link?.signal ?? lease.signal);
    } catch (err) {
      link?.unlink();
      if (this.#isBroken(err, lease.resource)) await lease.destroy(err);
      else await lease.release();
      throw err;
    }
    link?.unlink();
    const back = lease.release();
    if (back !== DONE) await back; // saves a turn of the microtask queue per use in the common case
    return result;
  }

  /** `isBroken` option; a throwing hook counts as broken (and is reported). */
  #isBroken(err: unknown, r: T): boolean {
    try {
      return this.#cfg.isBroken?.(err, r) === true;
    } catch (hookErr) {
      this.#voice.report(hookErr);
      return true;
    }
  }
}
