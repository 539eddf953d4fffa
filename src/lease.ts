/**
 * {@link Lease}: one resource lent by a {@link Pool}, until released or destroyed.
 * @module
 */

/**
 * Internal: the pool side of a lease.
 *
 * @example
 * ```ts
 * const owner: LeaseOwner<Conn> = { giveBack: (lease, destroy) => (destroy ? kill(lease) : reuse(lease)) };
 * ```
 */
export interface LeaseOwner<T> {
  /** Takes the resource back: `destroy` retires it; `unused` means it was never handed to a caller. */
  giveBack(lease: Lease<T>, destroy: boolean, reason: unknown, unused: boolean): Promise<void>;
}

/**
 * Internal: what `release()`/`destroy()` return when the pool took the resource back synchronously (a
 * caller may skip awaiting it: one turn of the microtask queue saved per use).
 *
 * @example
 * ```ts
 * const back = lease.release();
 * if (back !== DONE) await back;
 * ```
 */
export const DONE: Promise<void> = Promise.resolve();

/**
 * A resource lent by a {@link Pool}. Give it back exactly once with `release()` (healthy) or
 * `destroy()` (broken); both are idempotent, so a `finally` and an error handler may both call them.
 * `await using` releases it at the end of the scope.
 *
 * @example
 * ```ts
 * await using lease = await pool.acquire({ timeout: 2000 });
 * try {
 *   await lease.resource.query('select 1');
 * } catch (err) {
 *   if (isConnectionError(err)) await lease.destroy(err); // the pool makes a new one
 *   throw err;
 * }
 * ```
 */
export class Lease<T> {
  /** The lent resource. Do not use it after `release()`/`destroy()`. */
  readonly resource: T;
  /** Aborts when the pool reclaims the resource by force (closing, past its timeout). */
  readonly signal: AbortSignal;
  readonly #owner: LeaseOwner<T>;
  #done = false;
  /** Internal: leak-warning timer canceller, set by the pool. */
  cancelLeakTimer: (() => void) | undefined = undefined;

  /** Internal: made by the pool. */
  constructor(owner: LeaseOwner<T>, resource: T, signal: AbortSignal) {
    this.#owner = owner;
    this.resource = resource;
    this.signal = signal;
  }

  /** True once released, destroyed or reclaimed. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Gives the resource back for reuse (it may still be retired: `maxUses`, `maxLifetime`, or a
   * failed `factory.reset`). Resolves when the pool has taken it; never rejects. Idempotent.
   *
   * @example
   * ```ts
   * const lease = await pool.acquire();
   * try { await work(lease.resource); } finally { await lease.release(); }
   * ```
   */
  release(): Promise<void> {
    if (this.#done) return DONE;
    this.#done = true;
    return this.#owner.giveBack(this, false, undefined, false);
  }

  /**
   * Gives the resource back as broken: it is destroyed and its slot freed. `reason` is passed to the
   * pool's `'destroy'` event. Resolves at once (destruction runs in the background); idempotent.
   *
   * @example
   * ```ts
   * client.on('error', (err) => void lease.destroy(err));
   * ```
   */
  destroy(reason?: unknown): Promise<void> {
    if (this.#done) return DONE;
    this.#done = true;
    return this.#owner.giveBack(this, true, reason, false);
  }

  /** Internal: returns a lease no caller ever saw (its acquirer gave up). */
  returnUnused(): Promise<void> {
    if (this.#done) return DONE;
    this.#done = true;
    return this.#owner.giveBack(this, false, undefined, true);
  }

  /** Internal: the pool reclaimed the resource; later release/destroy do nothing. */
  revoke(): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.cancelLeakTimer?.();
    return true;
  }

  /**
   * `await using lease = await pool.acquire()` releases it when the scope ends.
   *
   * @example
   * ```ts
   * { await using lease = await pool.acquire(); await lease.resource.ping(); }
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
