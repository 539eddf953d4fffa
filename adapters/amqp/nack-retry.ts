/**
 * {@link NackRetry}: the publisher's answer to `basic.nack`. RabbitMQ 3.10 (reproduced on a
 * 3-node cluster, see RELIABILITY.md) nacks every publish of a channel whose first publish to a
 * quorum queue came right after the leader's node died, for as long as the channel lives, while
 * channels opened a moment later get acks. Treating each nack as final would fail a burst of
 * publishes after every failover; so a nack retires the channel, publishing pauses, and the
 * nacked message goes out again on a fresh channel, a bounded number of times.
 * @module
 */
import { now } from '../../src/internal/index.js';
import { NackError } from './errors.js';
import type { PublishEntry } from './publish-entry.js';

/** The pause never grows past this many times the first one. */
const MAX_GROWTH = 8;

/**
 * Pauses between fresh channels and the re-publish budget of each message.
 *
 * @example
 * ```ts
 * const retry = new NackRetry({ attempts: 4, delay: 250 });
 * const pause = retry.pause(); // 250, then 500, 1000, 2000, 2000 … until reset()
 * if (retry.allows(entry, pause)) requeue(entry);
 * ```
 */
export class NackRetry {
  readonly #attempts: number;
  readonly #delay: number;
  #round = 0;

  constructor(settings: { attempts: number; delay: number }) {
    this.#attempts = settings.attempts;
    this.#delay = settings.delay;
  }

  /** False with `attempts: 0`: the first nack is final. */
  get enabled(): boolean {
    return this.#attempts > 0;
  }

  /** A nack retired the channel: how long to wait before the next one (doubling while they keep nacking). */
  pause(): number {
    const pause = this.#delay * Math.min(2 ** this.#round, MAX_GROWTH);
    this.#round++;
    return pause;
  }

  /** A channel opened after the last retirement got an ack: the next nack pauses `delay` again. */
  reset(): void {
    this.#round = 0;
  }

  /** The error of a nack that is final for `entry`. */
  error(entry: PublishEntry): NackError {
    const times = entry.nacks + 1;
    return new NackError(
      `The broker nacked message ${entry.options.messageId ?? '(without id)'}` +
        (times > 1 ? ` ${times} times, on ${times} channels` : ''),
    );
  }

  /** True (and counted) when the nacked `entry` may be published again after `pause` ms. */
  allows(entry: PublishEntry, pause: number): boolean {
    if (entry.nacks >= this.#attempts || entry.deadline - now() <= pause) return false;
    entry.nacks++;
    return true;
  }
}
