/**
 * One relay round ({@link startBatch}): lock a batch of committed outbox rows, publish them with
 * confirms in id order, delete the confirmed ones and count the others' attempts — in one
 * transaction.
 * @module
 */
import { toError } from '../../src/internal/index.js';
import type { Broker } from '../amqp/broker.js';
import type { Database } from '../postgres/database.js';
import { sql } from '../postgres/sql.js';
import type { OutboxSettings } from './outbox-settings.js';
import { sendTraced } from './outbox-trace.js';
import type { RelayMetrics } from './relay-metrics.js';
import { tableId } from './tables.js';

/**
 * A relay round in progress.
 *
 * @example
 * ```ts
 * const batch = startBatch(round);
 * const picked = await batch.issued;
 * const failed = await batch.done;
 * ```
 */
export interface Batch {
  /** Rows picked, once their publishes are on the channel (0 after a failure). Never rejects. */
  issued: Promise<number>;
  /** Failed publishes, once the batch's transaction is over (1 when the batch itself failed). Never rejects. */
  done: Promise<number>;
  /** Set as soon as a publish of the batch (or the batch) fails. */
  failing: boolean;
}

/**
 * What a round works with, and where it reports.
 *
 * @example
 * ```ts
 * const round: BatchRound = { db, broker, settings, picked: (n) => stats.batches++, outcome: (sent, failed, err) => … };
 * ```
 */
export interface BatchRound {
  db: Database;
  broker: Broker;
  settings: OutboxSettings;
  /** The relay's metrics (`undefined` without a MeterProvider). */
  metrics: RelayMetrics | undefined;
  /** A round picked `rows` rows. */
  picked(rows: number): void;
  /** A round is over: `sent` published and deleted, `failed` kept for a retry, `error` the last failure. */
  outcome(sent: number, failed: number, error: Error | undefined): void;
}

interface OutboxRow {
  id: string;
  message_id: string;
  exchange: string;
  routing_key: string;
  content: Buffer;
  content_type: string;
  headers: Record<string, unknown> | null;
  traceparent: string | null;
  tracestate: string | null;
  /** Seconds since `created_at`, by the server's clock, when the row was picked. */
  age_s: number;
}

/**
 * Starts one round (see {@link Batch}): `issued` resolves once the publishes of its rows are on the
 * channel, `failing` is set as soon as one of them fails (before the others are confirmed).
 *
 * @example
 * ```ts
 * const batch = startBatch(round);
 * ```
 */
export function startBatch(round: BatchRound): Batch {
  let markIssued!: (picked: number) => void;
  const issued = new Promise<number>((resolve) => (markIssued = resolve));
  const batch: Batch = { issued, done: Promise.resolve(0), failing: false };
  batch.done = relayBatch(round, markIssued, () => (batch.failing = true)).then(
    ([picked, failed]) => {
      markIssued(picked);
      return failed;
    },
    (err: unknown) => {
      round.outcome(0, 0, toError(err));
      batch.failing = true;
      markIssued(0);
      return 1;
    },
  );
  return batch;
}

async function relayBatch(
  round: BatchRound,
  issued: (picked: number) => void,
  failing: () => void,
): Promise<[picked: number, failed: number]> {
  const { table, batchSize, publishTimeout } = round.settings;
  return round.db.transaction(async (tx) => {
    const rows = await tx.rows<OutboxRow>(sql`
      select id, message_id, exchange, routing_key, content, content_type, headers, traceparent, tracestate,
             extract(epoch from clock_timestamp() - created_at)::float8 as age_s
      from ${tableId(table)} order by id limit ${batchSize} for update skip locked`);
    if (rows.length === 0) return [0, 0];
    round.picked(rows.length);
    // Issued in id order on the broker's channel; confirms are awaited together.
    const confirms = rows.map((row) => publishRow(round, row, publishTimeout));
    issued(rows.length);
    for (const confirm of confirms) confirm.catch(failing);
    const outcomes = await Promise.allSettled(confirms);
    const sent: string[] = [];
    const failed: string[] = [];
    let error: Error | undefined;
    outcomes.forEach((outcome, i) => {
      const id = rows[i]!.id;
      if (outcome.status === 'fulfilled') sent.push(id);
      else {
        failed.push(id);
        error = toError(outcome.reason);
      }
    });
    if (sent.length > 0) await tx.query(sql`delete from ${tableId(table)} where id = any(${sent}::bigint[])`);
    if (failed.length > 0) {
      await tx.query(sql`update ${tableId(table)} set attempts = attempts + 1, last_error = ${String(error)}
        where id = any(${failed}::bigint[])`);
    }
    round.outcome(sent.length, failed.length, error);
    return [rows.length, failed.length];
  });
}

/**
 * Publishes one row: under its stored trace context when it has one (see `outbox-trace.ts`), and
 * records its lag at the confirm when metrics are on.
 */
function publishRow(round: BatchRound, row: OutboxRow, timeout: number): Promise<void> {
  const publish = (headers: Record<string, unknown> | null): Promise<void> =>
    round.broker.publish(row.exchange, row.routing_key, row.content, {
      messageId: row.message_id,
      contentType: row.content_type,
      ...(headers ? { headers } : {}),
      timeout,
    });
  const confirm =
    row.traceparent === null
      ? publish(row.headers)
      : sendTraced(
          { traceparent: row.traceparent, tracestate: row.tracestate },
          {
            exchange: row.exchange,
            routingKey: row.routing_key,
            messageId: row.message_id,
            bodySize: row.content.length,
          },
          row.headers,
          publish,
        );
  if (round.metrics !== undefined) {
    const confirmed = round.metrics.lagFrom(row.age_s);
    // The failure itself is handled by the batch, which awaits `confirm`.
    confirm.then(confirmed, () => undefined);
  }
  return confirm;
}
