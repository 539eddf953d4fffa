/**
 * {@link Pool}: generic-pool behind a BoundedSemaphore — fair, cancellable, never hangs.
 * @module
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { BoundedSemaphore } from './bounded-semaphore.js';
import { ConnkitError, PoolClosedError, QueueFullError, TimeoutError } from './errors.js';
import { Lease } from './lease.js';
import type { LeaseOwner } from './lease.js';
import { checkDuration, checkSignal, describeValue } from './options.js';
import type { WaitOptions } from './options.js';
import type { PoolEvents, PoolFactory, PoolOptions, PoolStats } from './pool-options.js';
import { backoffDelay } from './retry.js';
import { sleep } from './timeout.js';
import { Acquisition } from './internal/pool-acquisition.js';
import type { AcquisitionHost } from './internal/pool-acquisition.js';
import { checkFactory, resolvePoolConfig } from './internal/pool-config.js';
import type { PoolConfig } from './internal/pool-config.js';
import { ResourceStore } from './internal/resource-store.js';
import { linkSignals } from './internal/link-signals.js';
import { startTimer } from './internal/timer.js';

export { Lease } from './lease.js';

const DONE: Promise<void> = Promise.resolve();
type Acq<T> = Acquisition<Lease<T>> & { origin?: Error | undefined };
interface Queued {
  reject: (reason: unknown) => void;
}

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
  readonly #factory: PoolFactory<T>;
  readonly #o: PoolConfig<T>;
  readonly #sem: BoundedSemaphore;
  readonly #store: ResourceStore<T>;
  readonly #leases = new Set<Lease<T>>();
  readonly #pending = new Set<Acq<T>>();
  /** Factory calls in flight (create, destroy), awaited by close(). */
  readonly #ops = new Set<Promise<unknown>>();
  /** Aborts background (warm-up) creates when close() starts. */
  readonly #closeController = new AbortController();
  /** Aborts when close() stops waiting for lent resources and takes them back. */
  readonly #reclaim = new AbortController();
  #live = 0;
  /** Callers queued in the semaphore, so that close() can reject them at once. */
  readonly #queued = new Set<Queued>();
  #creating = 0;
  #created = 0;
  #destroyed = 0;
  #createErrors = 0;
  #timeouts = 0;
  #warmPaused = false;
  #closing: Promise<void> | undefined = undefined;
  #onQuiet: (() => void) | undefined = undefined;
  readonly #owner: LeaseOwner<T> = {
    giveBack: (lease, d, reason, unused) => this.#giveBack(lease, d, reason, unused),
  };
  readonly #acqHost: AcquisitionHost<Lease<T>> = {
    timeoutError: (acq) => this.#timeoutError(acq.timeout, acq.lastError),
    settled: (acq) => this.#pending.delete(acq),
    orphan: (lease) => void lease.returnUnused(),
  };

  /**
   * @param factory makes, checks and disposes of the resources.
   * @param options see {@link PoolOptions}; validated here (TypeError/RangeError quoting the value).
   */
  constructor(factory: PoolFactory<T>, options?: PoolOptions<T>) {
    super();
    checkFactory(factory);
    this.#factory = factory;
    this.#o = resolvePoolConfig(options);
    this.#sem = new BoundedSemaphore(this.#o.max);
    // Every `use()` with a signal of its own listens on the reclaim signal while it runs.
    setMaxListeners(0, this.#reclaim.signal);
    this.#store = new ResourceStore<T>(
      { dispose: (r, reason) => this.#dispose(r, reason), aboveMin: () => this.#live > this.#o.min },
      this.#o,
    );
    // Let the caller attach listeners before the warm-up starts.
    if (this.#o.min > 0) queueMicrotask(() => this.#ensureMin());
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
    const signal = checkSignal(opts?.signal);
    const timeout = checkDuration(opts?.timeout, 'timeout', this.#o.acquireTimeout);
    if (this.#closing) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const origin = this.#o.leakTimeout === Infinity ? undefined : this.#leakError();
    // With a slot free at once, `timeout: 0` still lets creation run its course (bounded by the default).
    if (this.#sem.tryAcquire()) {
      try {
        return Promise.resolve(this.#withSlot(signal, timeout || this.#o.acquireTimeout, origin));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (timeout === 0) return Promise.reject(this.#timeoutError(0, undefined));
    if (this.#sem.waiting >= this.#o.maxWaiting) {
      return Promise.reject(
        new QueueFullError(
          `Pool "${this.#o.name}" has ${this.#sem.waiting} callers waiting (maxWaiting ${this.#o.maxWaiting})`,
        ),
      );
    }
    return this.#waitForSlot(signal, timeout, origin);
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
    return this.#use(this.acquire(opts), fn, opts?.signal);
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
    return {
      size: this.#live + this.#creating,
      idle: this.#store.idle + this.#handoffs.length,
      borrowed: this.#leases.size,
      pending: this.#queued.size + this.#pending.size,
      max: this.#o.max,
      min: this.#o.min,
      created: this.#created,
      destroyed: this.#destroyed,
      createErrors: this.#createErrors,
      timeouts: this.#timeouts,
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
    const timeout = checkDuration(opts?.timeout, 'timeout', this.#o.closeTimeout);
    return (this.#closing ??= this.#shutdown(timeout));
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
   * Queues for a slot in the semaphore, with the caller's own signal and timeout. close() rejects the
   * caller at once through `#queued`; its semaphore wait, orphaned, hands back the slot it later gets.
   * (No listener on a shared close signal: EventTarget listener lists are linear, and this is the hot path.)
   */
  #waitForSlot(signal: AbortSignal | undefined, timeout: number, origin?: Error): Promise<Lease<T>> {
    const start = timeout === Infinity ? 0 : Date.now();
    return new Promise<Lease<T>>((resolve, reject) => {
      const entry: Queued = { reject };
      this.#queued.add(entry);
      this.#sem.acquire(signal === undefined ? { timeout } : { signal, timeout }).then(
        () => {
          if (!this.#queued.delete(entry)) return this.#releaseSlot();
          const left = timeout === Infinity ? timeout : Math.max(0, timeout - (Date.now() - start));
          try {
            resolve(this.#withSlot(signal, left, origin));
          } catch (err) {
            reject(err);
          }
        },
        (err: unknown) => {
          if (this.#sem.waiting === 0) this.#parkHandoffs(); // a woken caller gave up: nobody will take them
          if (!this.#queued.delete(entry)) return;
          // The semaphore's own timeout (not an abort reason): say it in the pool's words.
          reject(
            err instanceof TimeoutError && err !== signal?.reason
              ? this.#timeoutError(timeout, undefined, 1)
              : err,
          );
        },
      );
    });
  }

  /**
   * Holding a slot. Steady state under contention: a resource handed straight over by the caller who
   * released it (no round trip through generic-pool); otherwise an idle one; otherwise create.
   */
  #withSlot(signal: AbortSignal | undefined, timeout: number, origin?: Error): Lease<T> | Promise<Lease<T>> {
    const handed = this.#closing ? undefined : this.#handoffs.pop();
    if (handed !== undefined) return this.#checkIdle(handed, signal, timeout, origin);
    if (this.#store.idle === 0 || this.#closing) return this.#acquireSlow(signal, timeout, origin, undefined);
    return this.#store.borrowIdle().then((r) => this.#checkIdle(r, signal, timeout, origin));
  }

  /** Resources released while callers queued, waiting for the next slot holder (still on loan in generic-pool). */
  readonly #handoffs: T[] = [];

  /** Returns stranded hand-offs to generic-pool's idle list. */
  #parkHandoffs(): void {
    for (let r = this.#handoffs.pop(); r !== undefined; r = this.#handoffs.pop()) this.#store.release(r);
  }

  /** A healthy resource comes back: straight to the next queued caller if there is one, else idle. */
  #putBack(r: T): void {
    if (this.#sem.waiting > 0 && !this.#closing) this.#handoffs.push(r);
    else this.#store.release(r);
  }

  #checkIdle(
    r: T,
    signal: AbortSignal | undefined,
    timeout: number,
    origin?: Error,
  ): Lease<T> | Promise<Lease<T>> {
    if (this.#closing) {
      this.#store.release(r);
      this.#releaseSlot();
      throw this.#closedError();
    }
    const valid = this.#validate(r);
    if (valid === true) return this.#lend(r, origin);
    if (valid === false) return this.#withSlot(signal, timeout, origin);
    return this.#acquireSlow(signal, timeout, origin, { resource: r, valid });
  }

  /** The rest under a deadline and a signal: async validation, creation (with retries). */
  #acquireSlow(
    signal: AbortSignal | undefined,
    timeout: number,
    origin: Error | undefined,
    first: { resource: T; valid: Promise<boolean> } | undefined,
  ): Promise<Lease<T>> {
    const acq: Acq<T> = new Acquisition<Lease<T>>(this.#acqHost, signal, timeout);
    acq.origin = origin;
    this.#pending.add(acq);
    return acq.follow(this.#obtain(acq, first));
  }

  /** Gets a resource for `acq`; owns the slot until it returns a lease (or gives the slot back). */
  async #obtain(acq: Acq<T>, first: { resource: T; valid: Promise<boolean> } | undefined): Promise<Lease<T>> {
    try {
      if (first && (await first.valid)) return this.#lend(first.resource, acq.origin);
      for (;;) {
        acq.signal.throwIfAborted();
        if (this.#store.idle > 0) {
          const r = await this.#store.borrowIdle();
          const valid = this.#validate(r);
          if (valid === true || (valid !== false && (await valid))) return this.#lend(r, acq.origin);
          continue;
        }
        const fresh = await this.#create(acq.signal, acq);
        return this.#lend(await this.#store.add(fresh), acq.origin);
      }
    } catch (err) {
      this.#releaseSlot();
      throw err;
    }
  }

  /** `factory.validate`, synchronous when it is; a resource that fails is destroyed. */
  #validate(r: T): boolean | Promise<boolean> {
    if (this.#factory.validate === undefined) return true;
    let result: boolean | Promise<boolean>;
    try {
      result = this.#factory.validate(r);
    } catch (err) {
      this.#emitError(err);
      result = false;
    }
    if (typeof result === 'boolean' || typeof (result as { then?: unknown }).then !== 'function') {
      return this.#judge(r, result !== false);
    }
    return Promise.resolve(result).then(
      (ok) => this.#judge(r, ok !== false),
      (err: unknown) => {
        this.#emitError(err);
        return this.#judge(r, false);
      },
    );
  }

  #judge(r: T, ok: boolean): boolean {
    if (!ok) this.#store.destroy(r, 'failed validation');
    return ok;
  }

  /** Makes a resource, retrying with backoff; stops at once when `signal` aborts. */
  async #create(signal: AbortSignal, acq: Acq<T> | undefined): Promise<T> {
    this.#creating++;
    try {
      for (let attempt = 1; ; attempt++) {
        let r: T;
        try {
          r = await this.#factory.create(signal);
        } catch (err) {
          this.#createErrors++;
          if (acq) acq.lastError = err;
          signal.throwIfAborted();
          if (attempt >= this.#o.createAttempts) throw err;
          await sleep(backoffDelay(attempt, this.#o.createBackoff), { signal });
          continue;
        }
        this.#live++;
        this.#created++;
        this.#emit('create', r);
        if (this.#closing) {
          this.#dispose(r, 'pool closed');
          throw this.#closedError();
        }
        this.#store.track(r);
        if (this.#warmPaused && acq) {
          this.#warmPaused = false; // the service is back: resume keeping `min` warm
          queueMicrotask(() => this.#ensureMin());
        }
        return r;
      }
    } finally {
      this.#creating--;
    }
  }

  #lend(r: T, origin: Error | undefined): Lease<T> {
    const lease = new Lease<T>(this.#owner, r, this.#reclaim.signal);
    this.#leases.add(lease);
    if (origin)
      lease.cancelLeakTimer = startTimer(this.#o.leakTimeout, () => this.#emit('leak', origin), true);
    return lease;
  }

  #giveBack(lease: Lease<T>, destroy: boolean, reason: unknown, unused: boolean): Promise<void> {
    this.#leases.delete(lease);
    lease.cancelLeakTimer?.();
    const r = lease.resource;
    const retire = destroy
      ? reason
      : this.#closing
        ? 'pool closed'
        : this.#store.retireReason(r, this.#o.maxUses, !unused);
    if (destroy || retire !== undefined) this.#store.destroy(r, retire);
    else if (unused || this.#factory.reset === undefined) this.#putBack(r);
    else return this.#resetThenRelease(r);
    this.#releaseSlot();
    return DONE;
  }

  async #resetThenRelease(r: T): Promise<void> {
    let ok = false;
    try {
      ok = (await this.#factory.reset?.(r)) !== false;
    } catch (err) {
      this.#emitError(err);
    }
    if (ok && !this.#closing) this.#putBack(r);
    else this.#store.destroy(r, ok ? 'pool closed' : 'failed reset');
    this.#releaseSlot();
  }

  async #use<R>(
    leased: Promise<Lease<T>>,
    fn: (resource: T, signal: AbortSignal) => R | PromiseLike<R>,
    signal: AbortSignal | undefined,
  ): Promise<R> {
    const lease = await leased;
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

  #isBroken(err: unknown, r: T): boolean {
    try {
      return this.#o.isBroken?.(err, r) === true;
    } catch (hookErr) {
      this.#emitError(hookErr);
      return true;
    }
  }

  #releaseSlot(): void {
    this.#sem.release();
    this.#onQuiet?.();
  }

  /** Called for every resource that stops being the pool's (generic-pool's destroy, or directly). */
  #dispose(r: T, reason: unknown): void {
    this.#live--;
    this.#destroyed++;
    this.#emit('destroy', r, reason);
    const op = (async () => this.#factory.destroy(r))()
      .catch((err: unknown) => this.#emitError(err))
      .finally(() => {
        this.#ops.delete(op);
        this.#onQuiet?.();
      });
    this.#ops.add(op);
    if (this.#o.min > 0) queueMicrotask(() => this.#ensureMin());
  }

  /** Keeps `min` resources warm, each made under a slot of its own so `max` holds. */
  #ensureMin(): void {
    while (
      !this.#closing &&
      !this.#warmPaused &&
      this.#live + this.#creating < this.#o.min &&
      this.#sem.tryAcquire()
    ) {
      void this.#warmOne();
    }
  }

  async #warmOne(): Promise<void> {
    try {
      const fresh = await this.#create(this.#closeController.signal, undefined);
      this.#store.release(await this.#store.add(fresh));
    } catch (err) {
      // Nobody waits for this one: report once and stop until an acquirer's create succeeds.
      if (!this.#closing) {
        this.#warmPaused = true;
        this.#emitError(err);
      }
    } finally {
      this.#releaseSlot();
    }
  }

  async #shutdown(timeout: number): Promise<void> {
    const closed = this.#closedError();
    this.#closeController.abort(closed);
    for (const acq of this.#pending) acq.abort(closed);
    for (const queued of this.#queued) queued.reject(closed);
    this.#queued.clear();
    this.#parkHandoffs();
    if (!(await this.#quiet(timeout, false))) {
      this.#reclaim.abort(new PoolClosedError(`Pool "${this.#o.name}" closed: lent resources reclaimed`));
      for (const lease of this.#leases) {
        if (!lease.revoke()) continue;
        this.#leases.delete(lease);
        this.#store.destroy(lease.resource, 'pool closed');
        this.#releaseSlot();
      }
    }
    await this.#store.close();
    if (!(await this.#quiet(timeout, true))) {
      throw new TimeoutError(
        `Pool "${this.#o.name}" close() timed out after ${timeout} ms waiting for the factory ` +
          `(${this.#o.max - this.#sem.value} slots held, ${this.#ops.size} destroys pending)`,
      );
    }
  }

  /** Resolves true once every slot is free (and, with `ops`, every factory call settled), false at the deadline. */
  #quiet(ms: number, ops: boolean): Promise<boolean> {
    const done = (): boolean => this.#sem.value === this.#o.max && (!ops || this.#ops.size === 0);
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const cancel = startTimer(ms, () => {
        this.#onQuiet = undefined;
        resolve(false);
      });
      this.#onQuiet = () => {
        if (!done()) return;
        cancel();
        this.#onQuiet = undefined;
        resolve(true);
      };
    });
  }

  /** `queued`: the caller had just left the queue, so it is counted among those waiting. */
  #timeoutError(ms: number, cause: unknown, queued = 0): TimeoutError {
    this.#timeouts++;
    const err = new TimeoutError(
      `Pool "${this.#o.name}" acquire timed out after ${ms} ms ` +
        `(${this.#leases.size} borrowed, ${this.#sem.waiting + queued} waiting)`,
      cause === undefined ? undefined : { cause },
    );
    this.#emit('acquireTimeout', err);
    return err;
  }

  #closedError(): PoolClosedError {
    return new PoolClosedError(`Pool "${this.#o.name}" is closed`);
  }

  #leakError(): Error {
    const err = new ConnkitError(
      `Pool "${this.#o.name}": a lease has been held for more than ${this.#o.leakTimeout} ms; acquired at:`,
      'LEASE_LEAK',
    );
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a stack-frame marker, never called
    Error.captureStackTrace(err, this.acquire);
    return err;
  }

  #emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.#emit('error', err);
  }

  /** A throwing listener must not break the pool's bookkeeping. */
  #emit<K extends keyof PoolEvents<T>>(event: K, ...args: PoolEvents<T>[K]): void {
    try {
      (this.emit as (e: K, ...a: PoolEvents<T>[K]) => boolean)(event, ...args);
    } catch (err) {
      process.emitWarning(`Pool "${this.#o.name}" '${String(event)}' listener threw: ${String(err)}`);
    }
  }
}
