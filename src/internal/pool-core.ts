/**
 * Internal: the state of a {@link Pool} and its give-back path (release, retire, hand-over to the
 * next queued caller). The acquire path lives in `pool-obtain.ts`, close in `pool-close.ts`; the
 * public class in `pool.ts` only checks arguments and routes.
 *
 * Slots: the permits of a `BoundedSemaphore(max)`. A slot is held by every lease, every acquire that
 * is validating or creating, and every warm-up create. A slot that frees while callers queue goes
 * straight to the oldest of them (with the resource, when one came back healthy), so generic-pool is
 * not involved in the steady state under load.
 * @module
 */
import type { EventEmitter } from 'node:events';
import { BoundedSemaphore } from '../bounded-semaphore.js';
import { ConnkitError, PoolClosedError, TimeoutError } from '../errors.js';
import { Lease } from '../lease.js';
import type { LeaseOwner } from '../lease.js';
import type { PoolEvents, PoolFactory } from '../pool-options.js';
import type { Acquisition, AcquisitionHost } from './pool-acquisition.js';
import type { PoolConfig } from './pool-config.js';
import { ResourceStore } from './resource-store.js';
import { SlotQueue } from './slot-queue.js';
import { startTimer } from './timer.js';

/**
 * What `Lease.release()` returns when the pool took the resource back synchronously.
 *
 * @example
 * ```ts
 * const back = lease.release();
 * if (back !== DONE) await back; // a turn of the microtask queue saved in the common case
 * ```
 */
export const DONE: Promise<void> = Promise.resolve();

/**
 * The shared state and bookkeeping of one Pool.
 *
 * @example
 * ```ts
 * const core = new PoolCore(emitter, factory, resolvePoolConfig({ max: 4 }));
 * if (core.sem.tryAcquire()) core.putBack(await factory.create(signal)); // slot and resource back
 * ```
 */
export class PoolCore<T> {
  readonly factory: PoolFactory<T>;
  readonly cfg: PoolConfig<T>;
  readonly sem: BoundedSemaphore;
  readonly store: ResourceStore<T>;
  readonly queue: SlotQueue<T>;
  readonly leases = new Set<Lease<T>>();
  /** Acquires that hold a slot and are validating or creating (see `Acquisition`). */
  readonly pending = new Set<Acquisition<Lease<T>>>();
  /** Factory calls in flight (destroy), awaited by close(). */
  readonly ops = new Set<Promise<unknown>>();
  /** Aborts background (warm-up) creates when close() starts. */
  readonly closeController = new AbortController();
  /** Aborts when close() stops waiting for lent resources and takes them back. */
  readonly reclaim = new AbortController();
  readonly owner: LeaseOwner<T>;
  readonly acqHost: AcquisitionHost<Lease<T>>;
  /** Resources made and not yet disposed of. */
  live = 0;
  creating = 0;
  created = 0;
  destroyed = 0;
  createErrors = 0;
  timeouts = 0;
  /** Warm-up stopped after a failure; an acquirer's successful create resumes it. */
  warmPaused = false;
  closing = false;
  /** Called whenever a slot frees or a factory call settles, while close() waits for quiet. */
  onQuiet: (() => void) | undefined = undefined;
  /** Tops up `min` (set by the pool: the create path lives in `pool-obtain.ts`). */
  keepWarm: () => void = () => undefined;
  readonly #emitter: EventEmitter;

  constructor(emitter: EventEmitter, factory: PoolFactory<T>, cfg: PoolConfig<T>) {
    this.#emitter = emitter;
    this.factory = factory;
    this.cfg = cfg;
    this.sem = new BoundedSemaphore(cfg.max);
    this.store = new ResourceStore<T>(
      { dispose: (r, reason) => this.dispose(r, reason), aboveMin: () => this.live > cfg.min },
      cfg,
    );
    this.queue = new SlotQueue<T>({ timeoutError: (w) => this.timeoutError(w.ms, undefined, 1) });
    this.owner = { giveBack: (lease, d, reason, unused) => this.giveBack(lease, d, reason, unused) };
    this.acqHost = {
      timeoutError: (acq) => this.timeoutError(acq.timeout, acq.lastError),
      settled: (acq) => this.pending.delete(acq),
      orphan: (lease) => void lease.returnUnused(),
    };
  }

  /** Lends `r` to a caller (the slot is already theirs). */
  lend(r: T, origin: Error | undefined): Lease<T> {
    const lease = new Lease<T>(this.owner, r, this.reclaim.signal);
    this.leases.add(lease);
    if (origin !== undefined) {
      lease.cancelLeakTimer = startTimer(this.cfg.leakTimeout, () => this.emit('leak', origin), true);
    }
    return lease;
  }

  /** The resource of a lease comes back (healthy or not); its slot frees or moves on. */
  giveBack(lease: Lease<T>, destroy: boolean, reason: unknown, unused: boolean): Promise<void> {
    this.leases.delete(lease);
    lease.cancelLeakTimer?.();
    const r = lease.resource;
    const retire = destroy
      ? reason
      : this.closing
        ? 'pool closed'
        : this.store.retireReason(r, this.cfg.maxUses, !unused);
    if (destroy || retire !== undefined) {
      this.store.destroy(r, retire);
      this.releaseSlot();
    } else if (unused || this.factory.reset === undefined) {
      this.putBack(r);
    } else {
      return this.#resetThenPutBack(r);
    }
    return DONE;
  }

  /** A healthy resource and its slot come back: both to the oldest queued caller, else idle and free. */
  putBack(r: T): void {
    if (this.closing || !this.queue.grant(r)) {
      this.store.release(r);
      this.#freeSlot();
    }
  }

  /** A slot frees without a resource: to the oldest queued caller, else back to the semaphore. */
  releaseSlot(): void {
    if (this.closing || !this.queue.grant(undefined)) this.#freeSlot();
  }

  #freeSlot(): void {
    this.sem.release();
    this.onQuiet?.();
  }

  async #resetThenPutBack(r: T): Promise<void> {
    let ok = false;
    try {
      ok = (await this.factory.reset?.(r)) !== false;
    } catch (err) {
      this.emitError(err);
    }
    if (ok && !this.closing) return this.putBack(r);
    this.store.destroy(r, ok ? 'pool closed' : 'failed reset');
    this.releaseSlot();
  }

  /** `factory.validate`, synchronous when it is; a resource that fails is destroyed. */
  validate(r: T): boolean | Promise<boolean> {
    if (this.factory.validate === undefined) return true;
    let result: boolean | Promise<boolean>;
    try {
      result = this.factory.validate(r);
    } catch (err) {
      this.emitError(err);
      result = false;
    }
    if (typeof result === 'boolean' || typeof (result as { then?: unknown }).then !== 'function') {
      return this.#judge(r, result !== false);
    }
    return Promise.resolve(result).then(
      (ok) => this.#judge(r, ok !== false),
      (err: unknown) => {
        this.emitError(err);
        return this.#judge(r, false);
      },
    );
  }

  #judge(r: T, ok: boolean): boolean {
    if (!ok) this.store.destroy(r, 'failed validation');
    return ok;
  }

  /** `isBroken` option; a throwing hook counts as broken (and is reported). */
  isBroken(err: unknown, r: T): boolean {
    try {
      return this.cfg.isBroken?.(err, r) === true;
    } catch (hookErr) {
      this.emitError(hookErr);
      return true;
    }
  }

  /** Called for every resource that stops being the pool's (generic-pool's destroy, or directly). */
  dispose(r: T, reason: unknown): void {
    this.live--;
    this.destroyed++;
    this.emit('destroy', r, reason);
    const op = (async () => this.factory.destroy(r))()
      .catch((err: unknown) => this.emitError(err))
      .finally(() => {
        this.ops.delete(op);
        this.onQuiet?.();
      });
    this.ops.add(op);
    if (this.cfg.min > 0) queueMicrotask(this.keepWarm);
  }

  /**
   * Counts and reports an acquire timeout; `ms` is the caller's timeout, `queued` 1 when the caller
   * had just left the queue (it is counted among those waiting).
   */
  timeoutError(ms: number, cause: unknown, queued = 0): TimeoutError {
    this.timeouts++;
    const err = new TimeoutError(
      `Pool "${this.cfg.name}" acquire timed out after ${ms} ms ` +
        `(${this.leases.size} borrowed, ${this.queue.length + queued} waiting)`,
      cause === undefined ? undefined : { cause },
    );
    this.emit('acquireTimeout', err);
    return err;
  }

  closedError(): PoolClosedError {
    return new PoolClosedError(`Pool "${this.cfg.name}" is closed`);
  }

  /** The `'leak'` warning's error, its stack starting at `marker` (the public acquire/use). */
  leakError(marker: (...args: never[]) => unknown): Error {
    const err = new ConnkitError(
      `Pool "${this.cfg.name}": a lease has been held for more than ${this.cfg.leakTimeout} ms; acquired at:`,
      'LEASE_LEAK',
    );
    Error.captureStackTrace(err, marker);
    return err;
  }

  emitError(err: unknown): void {
    if (this.#emitter.listenerCount('error') > 0) this.emit('error', err);
  }

  /** A throwing listener must not break the pool's bookkeeping. */
  emit<K extends keyof PoolEvents<T>>(event: K, ...args: PoolEvents<T>[K]): void {
    try {
      this.#emitter.emit(event, ...args);
    } catch (err) {
      process.emitWarning(`Pool "${this.cfg.name}" '${String(event)}' listener threw: ${String(err)}`);
    }
  }
}
