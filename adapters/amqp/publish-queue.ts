/**
 * {@link PublishQueue}: the publishes of a Broker that have not settled — in publish order, the ones
 * among them still waiting to be written (while disconnected, past the confirm window, or again
 * after their channel died), and what ends them besides the broker: their timeout, their caller's
 * signal, `maxPending`, close.
 * @module
 */
import type { Message as AmqpMessage, Options } from 'amqplib';
import {
  DeadlineList,
  Fifo,
  startTimer,
  TimeoutError,
  unwatchAbort,
  watchAbort,
} from '../../src/internal/index.js';
import { culpritError } from './channel-error.js';
import { BufferFullError } from './errors.js';
import { INFLIGHT, PublishEntry, QUEUED, SETTLED, type EntryOwner } from './publish-entry.js';

/**
 * Settings of a {@link PublishQueue}.
 *
 * @example
 * ```ts
 * const settings: PublishQueueSettings = { maxPending: 10_000, connected: () => true };
 * ```
 */
export interface PublishQueueSettings {
  /** Most unsettled publishes at once. */
  maxPending: number;
  /** For timeout messages: is the broker connected right now? */
  connected(): boolean;
}

/**
 * Unsettled entries as an intrusive list (a Set under constant add/delete churn measured 3–4×
 * slower per publish than the rest of the publish path together) and the FIFO of waiting ones
 * (an array with a moving head).
 *
 * @example
 * ```ts
 * const queue = new PublishQueue(settings);
 * const entry = queue.add(owner, '', 'jobs', content, properties, signal, 5000);
 * queue.push(entry);
 * ```
 */
export class PublishQueue {
  readonly #settings: PublishQueueSettings;
  /** Publish deadlines: those with one timeout (mostly the default) share one timer. */
  readonly #deadlines = new DeadlineList<PublishEntry>((entry) => this.#timedOut(entry));
  #first: PublishEntry | undefined = undefined;
  #last: PublishEntry | undefined = undefined;
  #count = 0;
  /** Entries waiting to be written (some may have settled meanwhile: readers check the state). */
  #waiting = new Fifo<PublishEntry>();
  #emptyWaiters: (() => void)[] = [];

  constructor(settings: PublishQueueSettings) {
    this.#settings = settings;
  }

  /** Unsettled entries. */
  get count(): number {
    return this.#count;
  }

  /** Entries waiting to be written (some may have settled meanwhile). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * A new unsettled entry, watched by its timeout and signal (the caller has already refused an
   * aborted signal and `timeout` 0). Throws `BufferFullError` at `maxPending`.
   */
  add(
    owner: EntryOwner,
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    signal: AbortSignal | undefined,
    timeout: number,
  ): PublishEntry {
    const { maxPending } = this.#settings;
    if (this.#count >= maxPending) {
      throw new BufferFullError(`Publish buffer is full (${this.#count} pending, maxPending ${maxPending})`);
    }
    const entry = new PublishEntry(owner, exchange, routingKey, content, options, signal);
    entry.prev = this.#last;
    if (this.#last) this.#last.next = entry;
    else this.#first = entry;
    this.#last = entry;
    this.#count++;
    if (signal !== undefined) watchAbort(signal, entry);
    this.#deadlines.add(entry, timeout);
    return entry;
  }

  /** Settles an entry once (`error === undefined` resolves) and forgets it. */
  settle(entry: PublishEntry, error: unknown): void {
    if (entry.state === SETTLED) return;
    entry.state = SETTLED;
    if (entry.prev) entry.prev.next = entry.next;
    else this.#first = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#last = entry.prev;
    entry.prev = entry.next = undefined;
    this.#count--;
    this.#deadlines.delete(entry);
    if (entry.signal !== undefined) unwatchAbort(entry.signal, entry);
    if (error === undefined) entry.resolve();
    else entry.reject(error);
    if (this.#count === 0 && this.#emptyWaiters.length > 0) {
      for (const wake of this.#emptyWaiters.splice(0)) wake();
    }
  }

  /** Rejects every unsettled entry with `error` and stops the deadline timer. */
  failAll(error: unknown): void {
    for (const entry of this.entries()) this.settle(entry, error);
    this.#deadlines.clear();
  }

  /** Resolves once nothing is unsettled, or after `timeout` ms (any duration), whichever is first. */
  async drained(timeout: number): Promise<void> {
    if (this.#count === 0 || timeout === 0) return;
    await new Promise<void>((resolve) => {
      const cancel = startTimer(timeout, resolve);
      this.#emptyWaiters.push(() => {
        cancel();
        resolve();
      });
    });
  }

  /** Queues an entry to be written after those already waiting. */
  push(entry: PublishEntry): void {
    this.#waiting.push(entry);
  }

  /** Puts back an entry that could not be written, first in line. */
  unshift(entry: PublishEntry): void {
    this.#waiting.unshift(entry);
  }

  /** Takes the next waiting entry (possibly settled meanwhile: the caller checks its state). */
  shift(): PublishEntry | undefined {
    return this.#waiting.length === 0 ? undefined : this.#waiting.shift();
  }

  /**
   * After a channel died (amqplib has already failed its unconfirmed entries, which are QUEUED
   * again and marked lost): fails the entry that caused a channel-level error (see
   * {@link culpritError}), and puts every other unsettled entry not in flight back in line, in
   * publish order. Returns how many were lost with the channel.
   */
  requeueLost(channelError: Error | undefined): number {
    let lost = 0;
    for (const entry of this.entries()) {
      if (entry.state !== QUEUED || !entry.lost) continue;
      entry.lost = false;
      lost++;
      const failure = culpritError(entry, channelError);
      if (failure) this.settle(entry, failure);
    }
    this.requeueUnsent();
    return lost;
  }

  /**
   * Every unsettled entry not in flight waits again, in publish order (after a channel died, or
   * when a fresh one is attached).
   */
  requeueUnsent(): void {
    const waiting = new Fifo<PublishEntry>();
    for (let e = this.#first; e; e = e.next) if (e.state === QUEUED) waiting.push(e);
    this.#waiting = waiting;
  }

  /** A snapshot of the unsettled entries in publish order (safe to settle while iterating). */
  entries(): PublishEntry[] {
    const out: PublishEntry[] = [];
    for (let e = this.#first; e; e = e.next) out.push(e);
    return out;
  }

  /**
   * Marks the in-flight entry the broker returned (mandatory, unroutable); its confirm follows and
   * rejects it with `UnroutableError`. Returns are rare and come before their confirm: a scan of the
   * in-flight window beats an index kept on every publish. A message relayed without an id (a
   * foreign message retried) is known by its destination and bytes; identical id-less messages to
   * one destination are interchangeable, and the oldest is taken first.
   */
  markReturned(msg: AmqpMessage): void {
    const id = msg.properties.messageId as string | undefined;
    const { exchange, routingKey, replyCode, replyText } = msg.fields as AmqpMessage['fields'] & {
      replyCode?: number;
      replyText?: string;
    };
    for (let e = this.#first; e; e = e.next) {
      if (e.state !== INFLIGHT || e.returned !== undefined) continue;
      const same =
        id !== undefined
          ? e.options.messageId === id
          : e.options.messageId === undefined &&
            e.exchange === exchange &&
            e.routingKey === routingKey &&
            e.content.equals(msg.content);
      if (same) {
        e.returned = `${replyCode ?? 312} ${replyText ?? 'NO_ROUTE'}`;
        return;
      }
    }
  }

  #timedOut(entry: PublishEntry): void {
    const where = entry.state === QUEUED ? 'waiting to be sent' : 'awaiting its confirm';
    const link = this.#settings.connected() ? 'connected' : 'disconnected';
    this.settle(
      entry,
      new TimeoutError(
        `Publish to exchange ${JSON.stringify(entry.exchange)} with routing key ${JSON.stringify(entry.routingKey)} timed out ` +
          `(${where}, ${link}, ${this.#count} pending)`,
      ),
    );
  }
}
