/**
 * Internal: how a {@link Pool} turns a slot into a lease. A caller holding a slot gets the resource
 * handed over with it, else an idle one that validates, else a new one. Everything that can finish
 * synchronously does (a resource handed over or idle, a synchronous `validate`: no promise, no timer);
 * the rest runs under an {@link Acquisition} (the caller's signal and what is left of its deadline).
 * Also keeps `min` resources warm, and stops all of it when the pool closes.
 * @module
 */
import { PoolClosedError, TimeoutError } from '../errors.js';
import type { Lease } from '../lease.js';
import { startTimeout } from './at-once.js';
import { now } from './timer.js';
import { CLOSED } from './lease-book.js';
import type { LeaseBook } from './lease-book.js';
import { Acquisition } from './pool-acquisition.js';
import type { AcquisitionHost } from './pool-acquisition.js';
import type { PoolConfig } from './pool-config.js';
import type { ResourceMaker } from './resource-maker.js';
import type { ResourceStore } from './resource-store.js';
import type { Claim, SlotQueue, SlotWaiter } from './slot-queue.js';

type Acq<T> = Acquisition<Lease<T>> & { origin?: Error | undefined };
type Checked<T> = { resource: T; valid: Promise<boolean> };

/**
 * What the lender needs from its pool.
 *
 * @example
 * ```ts
 * const host: LenderHost = { timeoutError: (ms) => new TimeoutError(`after ${ms} ms`), closedError, report: log };
 * ```
 */
export interface LenderHost {
  /** Counts and reports an acquire timeout (`ms`: the caller's timeout). */
  timeoutError(ms: number, cause: unknown): Error;
  closedError(): Error;
  /** An error nobody waits for. */
  report(error: unknown): void;
}

/**
 * The acquiring side of a pool: a slot in, a lease out.
 *
 * @example
 * ```ts
 * const lender = new Lender(cfg, slots, store, maker, book, host);
 * if (slots.take()) return lender.withSlot({ signal, ms: 5000, deadline: undefined, origin: undefined });
 * ```
 */
export class Lender<T> {
  readonly #cfg: PoolConfig<T>;
  readonly #slots: SlotQueue<T>;
  readonly #store: ResourceStore<T>;
  readonly #maker: ResourceMaker<T>;
  readonly #book: LeaseBook<T>;
  readonly #host: LenderHost;
  /** Acquires that hold a slot and validate or create. */
  readonly #pending = new Set<Acq<T>>();
  readonly #acqHost: AcquisitionHost<Lease<T>>;
  /** Aborts warm-up creates when the pool closes. */
  readonly #stopWarming = new AbortController();
  /** Warm-up stopped after a failure; an acquirer's successful create resumes it. */
  #warmPaused = false;
  #closed = false;
  /** Called whenever a slot frees or a destroy settles, while `shutdown()` waits for quiet. */
  #onQuiet: (() => void) | undefined = undefined;

  constructor(
    cfg: PoolConfig<T>,
    slots: SlotQueue<T>,
    store: ResourceStore<T>,
    maker: ResourceMaker<T>,
    book: LeaseBook<T>,
    host: LenderHost,
  ) {
    this.#cfg = cfg;
    this.#slots = slots;
    this.#store = store;
    this.#maker = maker;
    this.#book = book;
    this.#host = host;
    this.#acqHost = {
      timeoutError: (acq) => host.timeoutError(acq.timeout, acq.lastError),
      settled: (acq) => this.#pending.delete(acq),
      orphan: (lease) => void lease.returnUnused(),
    };
  }

  /** Acquires holding a slot while they validate or create. */
  get working(): number {
    return this.#pending.size;
  }

  /**
   * A queued caller was granted a slot (and maybe a resource): finish like a caller who found a slot
   * free. An abort that landed after the grant wins: the slot and resource go on to the next caller.
   */
  readonly resume = (w: SlotWaiter<T>): Lease<T> | Promise<Lease<T>> => {
    const r = w.resource;
    w.resource = undefined;
    if (w.signal?.aborted) {
      if (r === undefined) this.#book.releaseSlot();
      else this.#book.putBack(r);
      throw w.signal.reason;
    }
    return r === undefined ? this.withSlot(w) : this.#checkIdle(r, w);
  };

  /** Holding a slot: an idle resource, else create, for `claim`. */
  withSlot(claim: Claim): Lease<T> | Promise<Lease<T>> {
    if (this.#closed) {
      this.#book.releaseSlot();
      throw this.#host.closedError();
    }
    const idle = this.#store.borrowIdle();
    if (idle === undefined) return this.#acquireSlow(claim, undefined);
    if (idle instanceof Promise) return idle.then((r) => this.#checkIdle(r, claim));
    return this.#checkIdle(idle, claim);
  }

  /**
   * A slot and an idle resource that validates synchronously, both at once, or `undefined` with
   * nothing held. Never creates and never waits; a queued caller keeps precedence.
   */
  lendIdleNow(marker: (...args: never[]) => unknown): Lease<T> | undefined {
    if (this.#store.idle === 0 || !this.#slots.take()) return undefined;
    for (let r = this.#store.borrowIdleNow(); r !== undefined; r = this.#store.borrowIdleNow()) {
      const valid = this.#validate(r);
      // The leak-warning stack is taken only for a lease actually lent.
      if (valid === true) return this.#book.lend(r, this.#book.leakOrigin(marker));
      if (valid === false) continue; // destroyed; try the next idle one
      // An asynchronous validate cannot answer now: let it finish, then the resource and the slot go
      // back (to a queued caller first), as if it had never been borrowed.
      const resource = r;
      void valid.then((ok) => (ok ? this.#book.putBack(resource) : this.#book.releaseSlot()));
      return undefined;
    }
    this.#book.releaseSlot();
    return undefined;
  }

  /** Tops up `min`, each warm-up create under a slot of its own so `max` holds. */
  readonly keepWarm = (): void => {
    const { min } = this.#cfg;
    while (!this.#closed && !this.#warmPaused && this.#maker.live + this.#maker.creating < min) {
      if (!this.#slots.take()) return;
      void this.#warmOne();
    }
  };

  /** A slot freed or a destroy settled (what `shutdown()` waits for). */
  quieter(): void {
    this.#onQuiet?.();
  }

  /**
   * Stops lending: warm-up and acquires under way stop with `PoolClosedError`, queued callers are
   * rejected, lent resources are waited for up to `timeout` ms, then taken back; idle ones are
   * destroyed. Rejects with `TimeoutError` if factory calls still run `timeout` ms after that.
   */
  async shutdown(timeout: number): Promise<void> {
    const closed = this.#host.closedError();
    this.#closed = true;
    this.#book.close();
    this.#stopWarming.abort(closed);
    for (const acq of this.#pending) acq.abort(closed);
    this.#slots.failAll(closed);
    const { name } = this.#cfg;
    if (!(await this.#quiet(timeout, false))) {
      this.#book.reclaim(new PoolClosedError(`Pool "${name}" closed: lent resources reclaimed`));
    }
    await this.#store.close();
    if (!(await this.#quiet(timeout, true))) {
      throw new TimeoutError(
        `Pool "${name}" close() timed out after ${timeout} ms waiting for the factory ` +
          `(${this.#slots.held} slots held, ${this.#maker.destroying} destroys pending)`,
      );
    }
  }

  /** True once every slot is free (and, with `destroys`, every destroy settled); false at the deadline. */
  #quiet(ms: number, destroys: boolean): Promise<boolean> {
    const done = (): boolean => this.#slots.held === 0 && (!destroys || this.#maker.destroying === 0);
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (ok: boolean): void => {
        cancel();
        this.#onQuiet = undefined;
        resolve(ok);
      };
      const cancel = startTimeout(ms, () => finish(false));
      this.#onQuiet = () => done() && finish(true);
    });
  }

  /** Holding a slot and an idle resource: lend it if it validates, else look further. */
  #checkIdle(r: T, claim: Claim): Lease<T> | Promise<Lease<T>> {
    if (this.#closed) {
      this.#store.destroy(r, CLOSED);
      this.#book.releaseSlot();
      throw this.#host.closedError();
    }
    const valid = this.#validate(r);
    if (valid === true) return this.#book.lend(r, claim.origin);
    if (valid === false) return this.withSlot(claim);
    return this.#acquireSlow(claim, { resource: r, valid });
  }

  /** The rest under the deadline and the signal: an async validation, creation (with retries). */
  #acquireSlow(claim: Claim, first: Checked<T> | undefined): Promise<Lease<T>> {
    const { deadline } = claim;
    const left = deadline === undefined || deadline === Infinity ? claim.ms : Math.max(0, deadline - now());
    const acq: Acq<T> = new Acquisition<Lease<T>>(this.#acqHost, claim.signal, claim.ms, left);
    acq.origin = claim.origin;
    this.#pending.add(acq);
    return acq.follow(this.#obtain(acq, first));
  }

  /** Gets a resource for `acq`; owns the slot until it returns a lease (or gives the slot back). */
  async #obtain(acq: Acq<T>, first: Checked<T> | undefined): Promise<Lease<T>> {
    try {
      if (first && (await first.valid)) return this.#book.lend(first.resource, acq.origin);
      for (;;) {
        acq.signal.throwIfAborted();
        const idle = this.#store.borrowIdle();
        if (idle === undefined) {
          const fresh = await this.#maker.create(acq.signal, (err) => (acq.lastError = err));
          return this.#book.lend(await this.#admit(fresh, true), acq.origin);
        }
        const r = idle instanceof Promise ? await idle : idle;
        const valid = this.#validate(r);
        if (valid === true || (valid !== false && (await valid))) return this.#book.lend(r, acq.origin);
      }
    } catch (err) {
      this.#book.releaseSlot();
      throw err;
    }
  }

  /** A fresh resource joins the store (lent to whoever made it), unless the pool closed meanwhile. */
  #admit(r: T, byAcquirer: boolean): Promise<T> {
    if (this.#closed) {
      this.#maker.dispose(r, CLOSED);
      throw this.#host.closedError();
    }
    if (byAcquirer && this.#warmPaused) {
      this.#warmPaused = false; // the service is back: resume keeping `min` warm
      queueMicrotask(this.keepWarm);
    }
    return this.#store.add(r);
  }

  async #warmOne(): Promise<void> {
    let fresh: T;
    try {
      fresh = await this.#admit(await this.#maker.create(this.#stopWarming.signal), false);
    } catch (err) {
      // Nobody waits for this one: report once and stop until an acquirer's create succeeds.
      if (!this.#closed) {
        this.#warmPaused = true;
        this.#host.report(err);
      }
      this.#book.releaseSlot();
      return;
    }
    this.#book.putBack(fresh);
  }

  /** `factory.validate`; a resource that fails is destroyed. */
  #validate(r: T): boolean | Promise<boolean> {
    const valid = this.#maker.validate(r);
    if (typeof valid === 'boolean') return valid || this.#invalid(r);
    return valid.then((ok) => ok || this.#invalid(r));
  }

  #invalid(r: T): false {
    this.#store.destroy(r, 'failed validation');
    return false;
  }
}
