/**
 * Idempotent consumer: applies each message once per consumer, however often the broker delivers
 * it, and forgets the ids older than its retention.
 * @module
 */
import {
  activeSpan,
  ATTR,
  checkDuration,
  connkitMeter,
  describeValue,
  METRIC,
  tracingEnabled,
  VALUE,
  type CounterInstrument,
  type Logger,
} from '../../src/internal/index.js';
import { NonRetryableError } from '../amqp/errors.js';
import type { Message } from '../amqp/message.js';
import type { Database } from '../postgres/database.js';
import { sql } from '../postgres/sql.js';
import type { Transaction } from '../postgres/transaction.js';
import { InboxPruner, type PruneOptions } from './inbox-pruner.js';
import { installInbox, tableId } from './tables.js';

const DAY = 86_400_000;

/**
 * Options of {@link Inbox}.
 *
 * @example
 * ```ts
 * new Inbox(db, { table: 'app.inbox', keep: 14 * 86_400_000, logger: pino() });
 * ```
 */
export interface InboxOptions {
  /** Table of applied message ids; may be schema-qualified. @default 'connkit_inbox' */
  table?: string;
  /**
   * Deduplication key of a message. By default its `message_id`; give this for foreign publishers
   * that send none (e.g. a business key from the body).
   */
  idOf?: (msg: Message) => string | undefined;
  /**
   * Milliseconds an applied id is remembered (any duration; `Infinity`: forever): the pruner
   * ({@link Inbox.startPruning}) deletes older ones, after which a redelivery would apply again. Make
   * it longer than any message can take to come back: retries, dead-letter replays, outages.
   * @default 7 days
   */
  keep?: number;
  /** Where the pruner reports its failures: `logger.warn({ err, table }, message)`. @default undefined */
  logger?: Logger | undefined;
}

/**
 * Options of `inbox.handler()`.
 *
 * @example
 * ```ts
 * broker.consume('billing.v2', inbox.handler(apply, { consumer: 'billing' }));
 * ```
 */
export interface InboxHandlerOptions {
  /**
   * Who applies the messages: each consumer applies a message id once. Give one name to several
   * queues that are one consumer (a renamed queue, shards), or a stable name for a queue whose name
   * changes (server-named queues). @default the queue consumed (`msg.queue`)
   */
  consumer?: string | undefined;
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
 * Records every applied message id, per consumer, in the same transaction as the message's effect,
 * so a redelivered message is acknowledged and skipped — and a message fanned out to several queues
 * is applied once by each. Ids older than `keep` are pruned by {@link Inbox.startPruning}.
 *
 * @example
 * ```ts
 * const inbox = new Inbox(db);
 * await inbox.install();
 * await using pruner = inbox.startPruning();
 * broker.consume('orders', inbox.handler(async (msg, tx) => {
 *   await tx.query('insert into shipments (order_id) values ($1)', [msg.body.id]);
 * }));
 * ```
 */
export class Inbox {
  readonly #db: Database;
  readonly #table: string;
  readonly #idOf: (msg: Message) => string | undefined;
  readonly #keep: number;
  readonly #logger: Logger | undefined;
  #applied = 0;
  #duplicates = 0;
  #failed = 0;
  /** `connkit.inbox.duplicates`, made once when a MeterProvider is registered at construction. */
  readonly #duplicatesMetric: CounterInstrument | undefined;

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
    const logger = options.logger;
    if (logger !== undefined && (logger === null || typeof logger.warn !== 'function')) {
      throw new TypeError(`logger must have a warn(details, message) method, got ${describeValue(logger)}`);
    }
    this.#keep = checkDuration(options.keep, 'keep', 7 * DAY);
    this.#db = db;
    this.#table = table;
    this.#idOf = options.idOf ?? ((msg) => msg.properties.messageId as string | undefined);
    this.#logger = logger;
    this.#duplicatesMetric = connkitMeter()?.createCounter(METRIC.CONNKIT_INBOX_DUPLICATES, {
      description: 'Deliveries skipped because their consumer had already applied their message id',
      unit: '{message}',
    });
  }

  /**
   * Creates the inbox table if it does not exist, and migrates one made by an older connkit (keyed
   * by message id alone: its rows are kept and count as applied for every consumer). Idempotent and
   * safe to run from several processes at once (they take turns on an advisory lock). The migration
   * rebuilds the table's key under an exclusive lock, once.
   *
   * @example
   * ```ts
   * await inbox.install();
   * ```
   */
  async install(): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query(sql`select pg_advisory_xact_lock(hashtext(${this.#table}))`);
      await installInbox(tx, this.#table);
    });
  }

  /**
   * Starts deleting the ids applied more than `keep` ago, in batches of `batchSize` rows (one short
   * statement each), a pass every `interval`. Several processes may prune the same table. Stop it
   * with `stop()`, its signal or `await using`; it stops by itself once the Database is closed, and
   * never keeps the process alive.
   *
   * @example
   * ```ts
   * const pruner = inbox.startPruning({ signal: shutdown.signal, interval: 60_000 });
   * ```
   */
  startPruning(options: PruneOptions = {}): InboxPruner {
    return new InboxPruner(
      { db: this.#db, table: this.#table, keep: this.#keep, logger: this.#logger },
      options,
    );
  }

  /**
   * Wraps `fn` as a consume handler: in one transaction it records `(consumer, message id)` and runs
   * `fn`; a message this consumer has applied is skipped (and so acknowledged); a failing `fn` rolls
   * back and leaves the retry to the consumer's policy. The broker acks only after the commit. A
   * message without an id fails with a {@link MissingMessageIdError} (dead-lettered at once).
   *
   * With tracing on, the span active when the handler runs (the consumer's `process` span) gets
   * `connkit.inbox.outcome` (`applied` or `duplicate`); with metrics on, duplicates are counted in
   * `connkit.inbox.duplicates`, by `messaging.consumer.group.name` (the consumer) and
   * `db.collection.name` (the inbox table).
   *
   * @example
   * ```ts
   * broker.consume('orders', inbox.handler(async (msg, tx, signal) => { … }), { concurrency: 8 });
   * ```
   */
  handler<T = unknown>(
    fn: InboxHandler<T>,
    options: InboxHandlerOptions = {},
  ): (msg: Message<T>, signal: AbortSignal) => Promise<void> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeValue(options)}`);
    }
    const named: unknown = options.consumer;
    if (named !== undefined && (typeof named !== 'string' || named === '')) {
      throw new TypeError(`consumer must be a non-empty string, got ${describeValue(named)}`);
    }
    return async (msg, signal) => {
      const id = this.#idOf(msg);
      if (typeof id !== 'string' || id === '') {
        this.#failed += 1;
        throw new MissingMessageIdError(
          `Inbox "${this.#table}" cannot deduplicate a message without an id ` +
            `(routing key ${describeValue(msg.fields.routingKey)}): publish with a message_id or give the Inbox idOf()`,
        );
      }
      const consumer = named ?? msg.queue;
      if (typeof consumer !== 'string' || consumer === '') {
        this.#failed += 1;
        throw new TypeError(
          `Inbox "${this.#table}" needs the queue a message came from (msg.queue) or handler(fn, { consumer })`,
        );
      }
      // Taken before the transaction: inside it, a driver's span may be the active one.
      const span = tracingEnabled() ? activeSpan() : undefined;
      try {
        const applied = await this.#db.transaction(
          async (tx) => {
            // A concurrent delivery of the same id blocks here until the first commits or rolls back.
            // A row of consumer '' predates per-consumer keys and counts for every consumer.
            const res = await tx.query(sql`
              insert into ${tableId(this.#table)} (consumer, message_id)
              select ${consumer}, ${id}
              where not exists (select 1 from ${tableId(this.#table)} where consumer = '' and message_id = ${id})
              on conflict do nothing`);
            if (res.rowCount === 0) return false;
            await fn(msg, tx, signal);
            return true;
          },
          { signal },
        );
        if (applied) this.#applied += 1;
        else {
          this.#duplicates += 1;
          this.#duplicatesMetric?.add(1, {
            [ATTR.MESSAGING_CONSUMER_GROUP_NAME]: consumer,
            [ATTR.DB_COLLECTION_NAME]: this.#table,
          });
        }
        if (span?.isRecording()) {
          span.setAttribute(
            ATTR.CONNKIT_INBOX_OUTCOME,
            applied ? VALUE.INBOX_APPLIED : VALUE.INBOX_DUPLICATE,
          );
        }
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
