/**
 * Internal: the leases a {@link Pool} has out, and the way back. A lease given back is retired
 * (destroyed, `maxUses`, lifetime), reset (`factory.reset`) or put back — straight to the oldest queued
 * caller with its slot when there is one, so generic-pool is not involved in the steady state under
 * load. Closing takes what is still out back by force.
 * @module
 */
import { setMaxListeners } from 'node:events';
import { ConnkitError } from '../errors.js';
import { DONE, Lease } from '../lease.js';
import type { LeaseOwner } from '../lease.js';
import type { PoolConfig } from './pool-config.js';
import type { ResourceMaker } from './resource-maker.js';
import type { ResourceStore } from './resource-store.js';
import type { SlotQueue } from './slot-queue.js';
import { startTimer } from './timer.js';

/** The `'destroy'` reason of everything the pool disposes of because it closes. */
export const CLOSED = 'pool closed';

/**
 * Leases out, and their way back to the slots and the store.
 *
 * @example
 * ```ts
 * const book = new LeaseBook(cfg, slots, store, maker, (origin) => pool.emit('leak', origin));
 * const lease = book.lend(conn, book.leakOrigin(pool.acquire)); // the caller holds a slot
 * await lease.release(); // back to the oldest queued caller, else idle
 * ```
 */
export class LeaseBook<T> {
  readonly #cfg: PoolConfig<T>;
  readonly #slots: SlotQueue<T>;
  readonly #store: ResourceStore<T>;
  readonly #maker: ResourceMaker<T>;
  readonly #onLeak: (origin: Error) => void;
  readonly #leases = new Set<Lease<T>>();
  /** Every lease's `signal`: aborts when the pool takes lent resources back by force. */
  readonly #reclaim = new AbortController();
  readonly #owner: LeaseOwner<T> = {
    giveBack: (lease, destroy, reason, unused) => this.#giveBack(lease, destroy, reason, unused),
  };
  #closed = false;

  constructor(
    cfg: PoolConfig<T>,
    slots: SlotQueue<T>,
    store: ResourceStore<T>,
    maker: ResourceMaker<T>,
    onLeak: (origin: Error) => void,
  ) {
    this.#cfg = cfg;
    this.#slots = slots;
    this.#store = store;
    this.#maker = maker;
    this.#onLeak = onLeak;
    // Every `use()` with a signal of its own listens on the reclaim signal while it runs.
    setMaxListeners(0, this.#reclaim.signal);
  }

  /** Leases held by callers. */
  get size(): number {
    return this.#leases.size;
  }

  /** The leak warning's error (where a lease was acquired), its stack starting at `marker`. */
  leakOrigin(marker: (...args: never[]) => unknown): Error | undefined {
    if (this.#cfg.leakTimeout === Infinity) return undefined;
    const err = new ConnkitError(
      `Pool "${this.#cfg.name}": a lease has been held for more than ${this.#cfg.leakTimeout} ms; acquired at:`,
      'LEASE_LEAK',
    );
    Error.captureStackTrace(err, marker);
    return err;
  }

  /** Lends `r` to a caller (the slot is already theirs). */
  lend(r: T, origin: Error | undefined): Lease<T> {
    const lease = new Lease<T>(this.#owner, r, this.#reclaim.signal);
    this.#leases.add(lease);
    if (origin !== undefined) {
      lease.cancelLeakTimer = startTimer(this.#cfg.leakTimeout, () => this.#onLeak(origin), true);
    }
    return lease;
  }

  /** A healthy resource and its slot come back: both to the oldest queued caller, else idle and free. */
  putBack(r: T): void {
    if (this.#closed) this.#store.destroy(r, CLOSED);
    else if (this.#slots.give(r)) return;
    else this.#store.release(r);
    this.#slots.free();
  }

  /** A slot frees without a resource: to the oldest queued caller, else back to the semaphore. */
  releaseSlot(): void {
    if (this.#closed || !this.#slots.give(undefined)) this.#slots.free();
  }

  /** The pool closes: what comes back from now on is destroyed, and its slot freed. */
  close(): void {
    this.#closed = true;
  }

  /** Takes every lent resource back by force (their `signal` aborts with `reason`) and destroys it. */
  reclaim(reason: unknown): void {
    this.#reclaim.abort(reason);
    for (const lease of this.#leases) {
      if (!lease.revoke()) continue;
      this.#leases.delete(lease);
      this.#store.destroy(lease.resource, CLOSED);
      this.releaseSlot();
    }
  }

  /** The resource of a lease comes back (healthy or not); its slot frees or moves on. */
  #giveBack(lease: Lease<T>, destroy: boolean, reason: unknown, unused: boolean): Promise<void> {
    this.#leases.delete(lease);
    lease.cancelLeakTimer?.();
    const r = lease.resource;
    const retire = destroy
      ? reason
      : this.#closed
        ? CLOSED
        : this.#store.retireReason(r, this.#cfg.maxUses, !unused);
    if (destroy || retire !== undefined) {
      this.#store.destroy(r, retire);
      this.releaseSlot();
    } else if (unused || !this.#maker.resets) {
      this.putBack(r);
    } else {
      return this.#resetThenPutBack(r);
    }
    return DONE;
  }

  async #resetThenPutBack(r: T): Promise<void> {
    if (await this.#maker.reset(r)) return this.putBack(r);
    this.#store.destroy(r, 'failed reset');
    this.releaseSlot();
  }
}
