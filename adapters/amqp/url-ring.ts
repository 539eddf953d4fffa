/**
 * {@link UrlRing}: the order in which a Broker dials its `urls`. A pass tries each URL once,
 * starting with the one after the URL whose connection ended last — so after a node is lost the
 * Broker goes to the next node in the list, and the lost one is tried last, not first (a node that
 * is down but still accepts TCP would otherwise hold every reconnect for `connectTimeout`).
 * @module
 */
import type { ChannelModel } from 'amqplib';
import { logDebug } from '../../src/internal/index.js';
import type { Credentials } from './credentials.js';
import { dial } from './dial.js';
import type { ResolvedBrokerOptions } from './options.js';

/**
 * The URLs of a Broker in dialling order.
 *
 * @example
 * ```ts
 * const ring = new UrlRing(credentials, opts);
 * const model = await ring.pass(() => running, (err) => isFatal(err));
 * // … the connection ends:
 * ring.moveOn();
 * ```
 */
export class UrlRing {
  readonly #credentials: Credentials;
  readonly #opts: ResolvedBrokerOptions;
  #next = 0;
  #current: string | undefined = undefined;

  constructor(credentials: Credentials, opts: ResolvedBrokerOptions) {
    this.#credentials = credentials;
    this.#opts = opts;
  }

  /** Number of URLs. */
  get size(): number {
    return this.#credentials.dial.length;
  }

  /** The URL (password masked) of the last connection made. */
  get current(): string | undefined {
    return this.#current;
  }

  /**
   * Tries each URL once, in ring order, while `going()`; resolves with the first connection, or
   * undefined. Each failure goes to `failed(err)`, which ends the pass early by returning true.
   */
  async pass(going: () => boolean, failed: (err: unknown) => boolean): Promise<ChannelModel | undefined> {
    const urls = this.#credentials.dial;
    const n = urls.length;
    for (let i = 0; i < n && going(); i++) {
      const index = (this.#next + i) % n;
      const url = this.#credentials.shown(index);
      logDebug(this.#opts.logger, 'connkit/amqp: connecting', { url });
      try {
        const model = await dial(urls[index] as string, this.#opts);
        this.#next = index;
        this.#current = url;
        return model;
      } catch (err) {
        logDebug(this.#opts.logger, 'connkit/amqp: connection attempt failed', {
          url,
          reason: this.#credentials.describe(err),
        });
        if (failed(err)) return undefined;
      }
    }
    return undefined;
  }

  /** The last connection made has ended (or never got ready): the next pass starts after its URL. */
  moveOn(): void {
    this.#next = (this.#next + 1) % this.size;
  }
}
