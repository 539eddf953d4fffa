/**
 * Idempotent consumer: applies each message once, however often the broker delivers it.
 * @module
 */
import { describeValue } from '../../src/internal/index.js';
import { NonRetryableError } from '../amqp/errors.js';
import type { Message } from '../amqp/message.js';
import type { Database } from '../postgres/database.js';
import { sql } from '../postgres/sql.js';
import type { Transaction } from '../postgres/transaction.js';
import { inboxDdl, tableId } from './tables.js';

/** Options of {@link Inbox}. */
export interface InboxOptions {
  /** Table of applied message ids; may be schema-qualified. @default 'connkit_inbox' */
  table?: string;
  /**
   * Deduplication key of a message. By default its `message_id`; give this for foreign publishers
   * that send none (e.g. a business key from the body).
   */
  idOf?: (msg: Message) => string | undefined;
}

/** Counters of an inbox. */
export interface InboxStats {
  /** Messages applied (their transaction committed). */
  applied: number;
  /** Deliveries skipped because their id was already applied. */
  duplicates: number;
  /** Handler runs that failed and rolled back. */
  failed: number;
}

/**
 * A message that cannot be deduplicated (no id): a poison message — no retry gives it an id — so it
 * is a {@link NonRetryableError} and the consumer dead-letters it at once.
 *
 * @example
 * ```ts
 * if (err instanceof MissingMessageIdError) console.log(err.code); // 'MISSING_MESSAGE_ID'
 * ```
 */
export class MissingMessageIdError extends NonRetryableError {
  constructor(message: string) {
    super(message, undefined, 'MISSING_MESSAGE_ID');
  }
}

/** What an inbox handler does with a message, inside the transaction that records it. */
export type InboxHandler<T> = (msg: Message<T>, tx: Transaction, signal: AbortSignal) => Promise<void>;

/**
 * Records every applied message id in the same transaction as the message's effect, so a
 * redelivered message is acknowledged and skipped.
 *
 * @example
 * ```ts
 * const inbox = new Inbox(db);
 * await inbox.install();
 * broker.consume('orders', inbox.handler(async (msg, tx) => {
 *   await tx.query('insert into shipments (order_id) values ($1)', [msg.body.id]);
 * }));
 * ```
 */
export class Inbox {
  readonly #db: Database;
  readonly #table: string;
  readonly #idOf: (msg: Message) => string | undefined;
  #applied = 0;
  #duplicates = 0;
  #failed = 0;

  constructor(db: Database, options: InboxOptions = {}) {
    if (db === null || typeof db !== 'object' || typeof db.transaction !== 'function') {
      throw new TypeError(`db must be a connkit Database, got ${describeValue(db)}`);
    }
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeValue(options)}`);
    }
    const table = options.table ?? 'connkit_inbox';
    if (typeof table !== 'string' || table === '') {
      throw new TypeError(`table must be a non-empty string, got ${describeValue(table)}`);
    }
    if (options.idOf !== undefined && typeof options.idOf !== 'function') {
      throw new TypeError(`idOf must be a function, got ${describeValue(options.idOf)}`);
    }
    this.#db = db;
    this.#table = table;
    this.#idOf = options.idOf ?? ((msg) => msg.properties.messageId as string | undefined);
  }

  /**
   * Creates the inbox table if it does not exist (idempotent).
   *
   * @example
   * ```ts
   * await inbox.install();
   * ```
   */
  async install(): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query(sql`select pg_advisory_xact_lock(hashtext(${this.#table}))`);
      await tx.query(inboxDdl(this.#table));
    });
  }

  /**
   * Wraps `fn` as a consume handler: in one transaction it records the message id and runs `fn`;
   * a duplicate is skipped (and so acknowledged); a failing `fn` rolls back and leaves the retry to
   * the consumer's policy. The broker acks only after the commit.
   *
   * @example
   * ```ts
   * broker.consume('orders', inbox.handler(async (msg, tx, signal) => { … }), { concurrency: 8 });
   * ```
   */
  handler<T = unknown>(fn: InboxHandler<T>): (msg: Message<T>, signal: AbortSignal) => Promise<void> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    return async (msg, signal) => {
      const id = this.#idOf(msg);
      if (typeof id !== 'string' || id === '') {
        this.#failed += 1;
        throw new MissingMessageIdError(
          `Inbox "${this.#table}" cannot deduplicate a message without an id ` +
            `(routing key ${describeValue(msg.fields.routingKey)}): publish with a message_id or give the Inbox idOf()`,
        );
      }
      try {
        const applied = await this.#db.transaction(
          async (tx) => {
            // A concurrent delivery of the same id blocks here until the first commits or rolls back.
            const res = await tx.query(
              sql`insert into ${tableId(this.#table)} (message_id) values (${id}) on conflict do nothing`,
            );
            if (res.rowCount === 0) return false;
            await fn(msg, tx, signal);
            return true;
          },
          { signal },
        );
        if (applied) this.#applied += 1;
        else this.#duplicates += 1;
      } catch (err) {
        this.#failed += 1;
        throw err;
      }
    };
  }

  /**
   * Counters since this inbox was created.
   *
   * @example
   * ```ts
   * inbox.stats(); // { applied: 10, duplicates: 2, failed: 0 }
   * ```
   */
  stats(): InboxStats {
    return { applied: this.#applied, duplicates: this.#duplicates, failed: this.#failed };
  }
}
