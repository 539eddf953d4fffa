/**
 * {@link SubscriptionSet}: the LISTEN subscriptions a `Database` opened (each on its own connection,
 * outside the pool), so that closing the database ends them too.
 * @module
 */
import { PoolClosedError } from '../../src/internal/index.js';
import type { Subscription } from './subscription.js';

/**
 * Open subscriptions of one database.
 *
 * @example
 * ```ts
 * const sub = await subscriptions.add(subscribe(connect, channel, opts, limits), () => closing);
 * await subscriptions.closeAll();
 * ```
 */
export class SubscriptionSet {
  readonly #open = new Set<Subscription>();

  /** Keeps the subscription `opening` yields — or closes it, when the database closed meanwhile. */
  async add(opening: Promise<Subscription>, closed: () => boolean): Promise<Subscription> {
    const sub = await opening;
    if (closed()) {
      await sub.close();
      throw new PoolClosedError('Database is closed');
    }
    for (const s of this.#open) if (s.closed) this.#open.delete(s);
    this.#open.add(sub);
    return sub;
  }

  /** Closes every subscription still open. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#open].map((s) => s.close()));
    this.#open.clear();
  }
}
