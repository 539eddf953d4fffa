/**
 * Transactional outbox: messages are written in the caller's transaction and published by a
 * {@link Relay} only once that transaction has committed.
 * @module
 */
import { describeValue, tracingEnabled } from '../../src/internal/index.js';
import type { Broker } from '../amqp/broker.js';
import { encodeBody } from '../amqp/codec.js';
import { checkHeaders } from '../amqp/publish-options.js';
import type { Database } from '../postgres/database.js';
import { sql } from '../postgres/sql.js';
import type { Transaction } from '../postgres/transaction.js';
import { resolveOutboxOptions, type OutboxOptions, type OutboxSettings } from './outbox-settings.js';
import { Relay, type RelayStartOptions } from './relay.js';
import { traceEnqueue, type StoredTrace } from './outbox-trace.js';
import { installOutbox, tableId } from './tables.js';
import { uuidv7 } from './uuid-v7.js';

export type { OutboxOptions, OutboxSettings } from './outbox-settings.js';

/**
 * A message to enqueue.
 *
 * @example
 * ```ts
 * const message: OutboxMessage = { exchange: 'orders', routingKey: 'order.created', body: { id } };
 * ```
 */
export interface OutboxMessage {
  exchange: string;
  routingKey: string;
  /** Encoded as the broker encodes bodies: bytes as-is, strings as text, anything else as JSON. */
  body: unknown;
  /** AMQP headers (values keep their types through JSON: strings, numbers, booleans). */
  headers?: Record<string, unknown>;
  /**
   * @default a UUIDv7 (RFC 9562): time-ordered, so the inboxes that record it insert near the end of
   * their index
   */
  messageId?: string;
}

function checkMessage(message: unknown): Required<Omit<OutboxMessage, 'headers'>> & OutboxMessage {
  if (message === null || typeof message !== 'object') {
    throw new TypeError(`message must be { exchange, routingKey, body }, got ${describeValue(message)}`);
  }
  const m = message as OutboxMessage;
  if (typeof m.exchange !== 'string')
    throw new TypeError(`exchange must be a string, got ${describeValue(m.exchange)}`);
  if (typeof m.routingKey !== 'string') {
    throw new TypeError(`routingKey must be a string, got ${describeValue(m.routingKey)}`);
  }
  if (m.messageId !== undefined && (typeof m.messageId !== 'string' || m.messageId === '')) {
    throw new TypeError(`messageId must be a non-empty string, got ${describeValue(m.messageId)}`);
  }
  checkHeaders(m.headers);
  return { ...m, messageId: m.messageId ?? uuidv7() };
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
    if (db === null || typeof db !== 'object' || typeof db.transaction !== 'function') {
      throw new TypeError(`db must be a connkit Database, got ${describeValue(db)}`);
    }
    if (broker === null || typeof broker !== 'object' || typeof broker.publish !== 'function') {
      throw new TypeError(`broker must be a connkit Broker, got ${describeValue(broker)}`);
    }
    this.#db = db;
    this.#broker = broker;
    this.#settings = resolveOutboxOptions(options);
  }

  /** The table name in use. */
  get table(): string {
    return this.#settings.table;
  }

  /**
   * Creates the outbox table if it does not exist, and adds the trace-context columns to one made by
   * an older connkit (idempotent, safe to run from several processes).
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
      await installOutbox(tx, this.#settings.table);
    });
  }

  /**
   * Adds a message in the caller's transaction and returns its message id. Committing the transaction
   * makes it visible to the relays (and wakes them through a NOTIFY sent after the commit); rolling
   * back discards it. Bad arguments throw synchronously, before anything is written.
   *
   * With an OpenTelemetry SDK registered and a span active, it also makes the message's `create`
   * span and stores its W3C `traceparent`/`tracestate` with the row: the relay sends the message
   * under that context, so the consumer's work joins this trace.
   *
   * @example
   * ```ts
   * const id = await outbox.enqueue(tx, { exchange: '', routingKey: 'jobs', body: { job: 1 } });
   * ```
   */
  enqueue(tx: Transaction, message: OutboxMessage): Promise<string> {
    if (tx === null || typeof tx !== 'object' || typeof tx.query !== 'function') {
      throw new TypeError(`tx must be a connkit Transaction, got ${describeValue(tx)}`);
    }
    const { exchange, routingKey, body, headers, messageId } = checkMessage(message);
    const { content, contentType } = encodeBody(body);
    // Without an SDK: one check, nothing made.
    const trace = tracingEnabled()
      ? traceEnqueue({ exchange, routingKey, messageId, bodySize: content.length })
      : undefined;
    return this.#insert(tx, messageId, exchange, routingKey, content, contentType, headers, trace);
  }

  async #insert(
    tx: Transaction,
    messageId: string,
    exchange: string,
    routingKey: string,
    content: Buffer,
    contentType: string,
    headers: Record<string, unknown> | undefined,
    trace: StoredTrace | undefined,
  ): Promise<string> {
    await tx.query(sql`
      insert into ${tableId(this.#settings.table)}
        (message_id, exchange, routing_key, content, content_type, headers, traceparent, tracestate)
      values (${messageId}, ${exchange}, ${routingKey}, ${content}, ${contentType}, ${headers ?? null},
        ${trace?.traceparent ?? null}, ${trace?.tracestate ?? null})`);
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
   * share the work through `FOR UPDATE SKIP LOCKED`. Its background failures go to the Outbox's
   * `logger` and its `stats().lastError`.
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
