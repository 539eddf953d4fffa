/**
 * Load for the cluster tests: a steady stream of confirmed publishes with a fixed number in flight
 * (each message has its own id), the time of every confirm (to measure the gap a fault causes),
 * and a tally of deliveries by message id (to prove every confirmed message arrived, and count
 * the duplicates).
 */
import { sleep } from '../../src/timeout.js';
import { errorClass } from './fault-tally.js';

/** What {@link ConfirmedLoad} sends and how fast. */
export interface ConfirmedLoadOptions {
  /** Publishes message `id`; resolves on the broker's confirm. */
  publish: (id: string) => Promise<unknown>;
  /** Ids are `${idPrefix}-${n}`. */
  idPrefix: string;
  /** Publishes in flight at once. */
  inFlight: number;
  /** At most this many publishes started per second (spreads the load over the faults). */
  perSecond: number;
}

/**
 * A confirmed-publish load.
 *
 * @example
 * ```ts
 * const load = new ConfirmedLoad({ publish: (id) => broker.sendToQueue(q, { id }, { messageId: id }), idPrefix: 'm', inFlight: 64, perSecond: 400 });
 * load.start();
 * await until(() => load.confirmed.size >= 1000);
 * await load.stop();
 * ```
 */
export class ConfirmedLoad {
  readonly confirmed = new Set<string>();
  /** Error class → count, for publishes that rejected. */
  readonly failures = new Map<string, number>();
  readonly #confirmTimes: number[] = [];
  readonly #opts: ConfirmedLoadOptions;
  #started = 0;
  #settled = 0;
  #stopping = false;
  #workers: Promise<void> | undefined;

  constructor(opts: ConfirmedLoadOptions) {
    this.#opts = opts;
  }

  /** Publishes started so far. */
  get started(): number {
    return this.#started;
  }

  /** Publishes settled (confirmed or rejected) so far. */
  get settled(): number {
    return this.#settled;
  }

  /** Rejected publishes. */
  get failed(): number {
    let n = 0;
    for (const count of this.failures.values()) n += count;
    return n;
  }

  /** Starts publishing (until {@link stop}). */
  start(): void {
    const began = Date.now();
    const worker = async (): Promise<void> => {
      while (!this.#stopping) {
        // Pacing: publish n may start at began + n / perSecond.
        const wait = began + (this.#started * 1000) / this.#opts.perSecond - Date.now();
        if (wait > 0) {
          await sleep(wait);
          continue;
        }
        const id = `${this.#opts.idPrefix}-${this.#started++}`;
        try {
          await this.#opts.publish(id);
          this.confirmed.add(id);
          this.#confirmTimes.push(Date.now());
        } catch (err) {
          const key = errorClass(err);
          this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
        } finally {
          this.#settled++;
        }
      }
    };
    this.#workers = Promise.all(Array.from({ length: this.#opts.inFlight }, worker)).then(() => undefined);
  }

  /** Stops starting publishes; resolves once every started one has settled. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#workers;
  }

  /** Confirms so far after time `t` (ms since the epoch). */
  confirmedSince(t: number): number {
    let n = 0;
    for (let i = this.#confirmTimes.length - 1; i >= 0 && this.#confirmTimes[i]! > t; i--) n++;
    return n;
  }

  /**
   * The longest time without a confirm in `[from, to]` (ms since the epoch), counted from `from`:
   * a fault's gap, from the moment it was injected to the next confirmed publish — or the longest
   * stall after it, whichever is longer.
   */
  worstGap(from: number, to: number): number {
    let prev = from;
    let worst = 0;
    for (const t of this.#confirmTimes) {
      if (t < from) continue;
      if (t > to) break;
      worst = Math.max(worst, t - prev);
      prev = t;
    }
    return worst;
  }

  /** Time from `from` to the first confirm of a publish after it. */
  firstConfirmAfter(from: number): number | undefined {
    const t = this.#confirmTimes.find((x) => x > from);
    return t === undefined ? undefined : t - from;
  }
}

/**
 * Deliveries counted by message id.
 *
 * @example
 * ```ts
 * const deliveries = new DeliveryTally();
 * broker.consume(q, async (msg) => deliveries.add(msg.properties.messageId));
 * expect(deliveries.missing(load.confirmed)).toEqual([]);
 * ```
 */
export class DeliveryTally {
  readonly #seen = new Map<string, number>();
  #total = 0;

  /** Counts one delivery of `id`. */
  add(id: unknown): void {
    const key = String(id);
    this.#seen.set(key, (this.#seen.get(key) ?? 0) + 1);
    this.#total++;
  }

  /** Deliveries so far, duplicates included. */
  get total(): number {
    return this.#total;
  }

  /** Distinct ids delivered. */
  get distinct(): number {
    return this.#seen.size;
  }

  /** Deliveries beyond the first of each id. */
  get duplicates(): number {
    return this.#total - this.#seen.size;
  }

  /** Times `id` was delivered. */
  count(id: string): number {
    return this.#seen.get(id) ?? 0;
  }

  /** The ids of `expected` never delivered. */
  missing(expected: Iterable<string>): string[] {
    const out: string[] = [];
    for (const id of expected) if (!this.#seen.has(id)) out.push(id);
    return out;
  }
}

/** One line a {@link RecordingLogger} received. */
export interface LogLine {
  at: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  details: Record<string, unknown>;
}

/**
 * A connkit `Logger` that keeps every line (with its time), so a test can check what a Broker did
 * and in which order — e.g. which URL it dialled first after a node died.
 *
 * @example
 * ```ts
 * const log = new RecordingLogger();
 * const broker = new Broker({ urls, logger: log });
 * log.after(t).filter((l) => l.message === 'connkit/amqp: connecting');
 * ```
 */
export class RecordingLogger {
  readonly lines: LogLine[] = [];

  debug(details: Record<string, unknown>, message: string): void {
    this.lines.push({ at: Date.now(), level: 'debug', message, details });
  }
  info(details: Record<string, unknown>, message: string): void {
    this.lines.push({ at: Date.now(), level: 'info', message, details });
  }
  warn(details: Record<string, unknown>, message: string): void {
    this.lines.push({ at: Date.now(), level: 'warn', message, details });
  }
  error(details: Record<string, unknown>, message: string): void {
    this.lines.push({ at: Date.now(), level: 'error', message, details });
  }

  /** Lines logged after `t` (ms since the epoch). */
  after(t: number): LogLine[] {
    return this.lines.filter((l) => l.at >= t);
  }

  /** The URLs dialled after `t`, in order (from the Broker's debug lines). */
  dialledAfter(t: number): string[] {
    return this.after(t)
      .filter((l) => l.message === 'connkit/amqp: connecting')
      .map((l) => String(l.details['url']));
  }
}

/**
 * The port of an AMQP URL (a Broker's `stats().url` is redacted, but its port is the node's).
 *
 * @example
 * ```ts
 * portOf(broker.stats().url) === portOf(cluster.urls[1]);
 * ```
 */
export function portOf(url: string | undefined): string {
  return url === undefined ? '' : new URL(url).port;
}
