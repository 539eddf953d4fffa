/**
 * Transactional outbox: messages are written in the caller's transaction and published by a
 * {@link Relay} only once that transaction has committed.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { checkDuration, checkInteger, describeValue } from '../../src/internal/index.js';
import type { Broker } from '../amqp/broker.js';
import { encodeBody } from '../amqp/codec.js';
import type { Database } from '../postgres/database.js';
import { sql } from '../postgres/sql.js';
import type { Transaction } from '../postgres/transaction.js';
import { Relay, type RelayStartOptions } from './relay.js';
import { outboxDdl, tableId } from './tables.js';

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /** Table holding unpublished messages; may be schema-qualified. @default 'connkit_outbox' */
  table?: string;
  /** Rows the relay takes (and locks) per round. @default 100 */
  batchSize?: number;
  /** Milliseconds between polls when no NOTIFY arrives (the fallback). @default 1000 */
  pollInterval?: number;
  /** Milliseconds one publish may wait for its confirm before the row is retried. @default 10_000 */
  publishTimeout?: number;
}

/** A message to enqueue. */
export interface OutboxMessage {
  exchange: string;
  routingKey: string;
  /** Encoded as the broker encodes bodies: bytes as-is, strings as text, anything else as JSON. */
  body: unknown;
  /** AMQP headers (values keep their types through JSON: strings, numbers, booleans). */
  headers?: Record<string, unknown>;
  /** @default a random UUID */
  messageId?: string;
}

/** Resolved relay settings shared with {@link Relay}. */
export interface OutboxSettings {
  table: string;
  batchSize: number;
  pollInterval: number;
  publishTimeout: number;
}

/**
 * Writes messages into a table inside your transaction; a relay publishes committed rows with
 * confirms. A message is published if and only if its transaction committed.
 *
 * @example
 * ```ts
 * const outbox = new Outbox(db, broker);
 * await outbox.install();
 * await db.transaction(async (tx) => {
 *   await tx.query('insert into orders (id) values ($1)', [id]);
 *   await outbox.enqueue(tx, { exchange: 'orders', routingKey: 'order.created', body: { id } });
 * });
 * const relay = outbox.start();
 * // … later
 * await relay.stop();
 * ```
 */
export class Outbox {
  readonly #db: Database;
  readonly #broker: Broker;
  readonly #settings: OutboxSettings;
  /** A wake-up NOTIFY is on its way; `#wakeAgain` asks for one more after it (coalescing). */
  #waking = false;
  #wakeAgain = false;

  constructor(db: Database, broker: Broker, options: OutboxOptions = {}) {
    const table = options.table ?? 'connkit_outbox';
    if (typeof table !== 'string' || table === '') {
      throw new TypeError(`table must be a non-empty string, got ${describeValue(table)}`);
    }
    this.#db = db;
    this.#broker = broker;
    this.#settings = {
      table,
      batchSize: checkInteger(options.batchSize, 'batchSize', 100, 1, 10_000),
      pollInterval: checkDuration(options.pollInterval, 'pollInterval', 1000),
      publishTimeout: checkDuration(options.publishTimeout, 'publishTimeout', 10_000),
    };
  }

  /** The table name in use. */
  get table(): string {
    return this.#settings.table;
  }

  /**
   * Creates the outbox table if it does not exist (idempotent, safe to run from several processes).
   *
   * @example
   * ```ts
   * await outbox.install();
   * ```
   */
  async install(): Promise<void> {
    // Serialises concurrent installs: CREATE TABLE IF NOT EXISTS can still race on the type name.
    await this.#db.transaction(async (tx) => {
      await tx.query(sql`select pg_advisory_xact_lock(hashtext(${this.#settings.table}))`);
      await tx.query(outboxDdl(this.#settings.table));
    });
  }

  /**
   * Adds a message in the caller's transaction and returns its message id. Committing the transaction
   * makes it visible to the relays (and wakes them through a NOTIFY sent after the commit); rolling
   * back discards it.
   *
   * @example
   * ```ts
   * const id = await outbox.enqueue(tx, { exchange: '', routingKey: 'jobs', body: { job: 1 } });
   * ```
   */
  async enqueue(tx: Transaction, message: OutboxMessage): Promise<string> {
    const { exchange, routingKey, body, headers } = message;
    if (typeof exchange !== 'string')
      throw new TypeError(`exchange must be a string, got ${describeValue(exchange)}`);
    if (typeof routingKey !== 'string') {
      throw new TypeError(`routingKey must be a string, got ${describeValue(routingKey)}`);
    }
    const messageId = message.messageId ?? randomUUID();
    const { content, contentType } = encodeBody(body);
    await tx.query(sql`
      insert into ${tableId(this.#settings.table)} (message_id, exchange, routing_key, content, content_type, headers)
      values (${messageId}, ${exchange}, ${routingKey}, ${content}, ${contentType}, ${headers ?? null})`);
    // NOTIFY inside the producer's transaction would serialise every producer's commit on
    // PostgreSQL's notify lock (measured: 4x fewer commits/s); wake the relays after the commit instead.
    tx.afterCommit(() => this.#wakeRelays());
    return messageId;
  }

  /** Sends one NOTIFY for any number of commits that happen while the previous one is on its way. */
  #wakeRelays(): void {
    if (this.#waking) {
      this.#wakeAgain = true;
      return;
    }
    this.#waking = true;
    void this.#db
      .query(sql`select pg_notify(${this.#settings.table}, '')`)
      // A lost wake-up costs latency, never a message: the relays poll as well.
      .catch(() => undefined)
      .finally(() => {
        this.#waking = false;
        if (this.#wakeAgain) {
          this.#wakeAgain = false;
          this.#wakeRelays();
        }
      });
  }

  /**
   * Starts a relay that publishes committed rows in id order. Several relays (in several processes)
   * share the work through `FOR UPDATE SKIP LOCKED`.
   *
   * @example
   * ```ts
   * const relay = outbox.start({ signal: shutdown.signal });
   * ```
   */
  start(options: RelayStartOptions = {}): Relay {
    return new Relay(this.#db, this.#broker, this.#settings, options);
  }
}
