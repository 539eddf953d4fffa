/**
 * DDL of the outbox and inbox tables. Table names may be schema-qualified (`app.outbox`); they are
 * always quoted identifiers, never spliced in raw.
 * @module
 */
import { sql, type SqlQuery } from '../postgres/sql.js';
import type { Transaction } from '../postgres/transaction.js';

/** The quoted identifier of a possibly schema-qualified table name. */
export function tableId(table: string): SqlQuery {
  return sql.id(table);
}

/** `CREATE TABLE IF NOT EXISTS` for an outbox: one row per message waiting to be relayed. */
export function outboxDdl(table: string): SqlQuery {
  const t = tableId(table);
  return sql`create table if not exists ${t} (
    id bigserial primary key,
    message_id text not null unique,
    exchange text not null,
    routing_key text not null,
    content bytea not null,
    content_type text not null,
    headers jsonb,
    created_at timestamptz not null default clock_timestamp(),
    attempts integer not null default 0,
    last_error text,
    traceparent text,
    tracestate text
  )`;
}

/**
 * Creates the outbox table, or brings one of an older shape up to date: a table made before the
 * outbox stored trace context gets the nullable `traceparent` and `tracestate` columns (a catalog
 * change only: PostgreSQL does not rewrite the table for a column without a default; its rows keep
 * `null`, and are published as before). Run it in a transaction that holds the table's advisory lock.
 *
 * @example
 * ```ts
 * await db.transaction(async (tx) => {
 *   await tx.query(sql`select pg_advisory_xact_lock(hashtext(${table}))`);
 *   await installOutbox(tx, table);
 * });
 * ```
 */
export async function installOutbox(tx: Transaction, table: string): Promise<void> {
  const t = tableId(table);
  await tx.query(outboxDdl(table));
  // Looked up first: ALTER TABLE takes an exclusive lock even when it has nothing to add, and would
  // queue behind the relays' open batches (and block every enqueue behind it) on each install.
  const { missing } = await tx.one<{ missing: number }>(sql`
    select 2 - count(*)::int as missing from pg_attribute
    where attrelid = to_regclass(${t.text}) and attname in ('traceparent', 'tracestate') and not attisdropped`);
  if (missing > 0) {
    await tx.query(
      sql`alter table ${t} add column if not exists traceparent text, add column if not exists tracestate text`,
    );
  }
}

/**
 * `CREATE TABLE IF NOT EXISTS` for an inbox: the ids of the messages each consumer has applied. A
 * row whose `consumer` is `''` was applied before the inbox told consumers apart (a migrated
 * table, or an older connkit still running) and counts as applied for every consumer.
 */
export function inboxDdl(table: string): SqlQuery {
  return sql`create table if not exists ${tableId(table)} (
    consumer text not null default '',
    message_id text not null,
    applied_at timestamptz not null default clock_timestamp(),
    primary key (consumer, message_id)
  )`;
}

/**
 * Creates the inbox table, or brings one of an older shape up to date: a table keyed by
 * `message_id` alone gets the `consumer` column (`''` for its rows, none lost) and the key
 * `(consumer, message_id)`; every table gets the `applied_at` index that pruning walks. Run it in a
 * transaction that holds the table's advisory lock. The key change rebuilds the key's index under an
 * exclusive lock: once, on the first install after an upgrade.
 *
 * @example
 * ```ts
 * await db.transaction(async (tx) => {
 *   await tx.query(sql`select pg_advisory_xact_lock(hashtext(${table}))`);
 *   await installInbox(tx, table);
 * });
 * ```
 */
export async function installInbox(tx: Transaction, table: string): Promise<void> {
  const t = tableId(table);
  await tx.query(inboxDdl(table));
  const shape = await tx.one<{ has_consumer: boolean; old_key: string | null }>(sql`
    select exists(select 1 from pg_attribute
                  where attrelid = to_regclass(${t.text}) and attname = 'consumer' and not attisdropped) as has_consumer,
           (select c.conname from pg_constraint c
            where c.conrelid = to_regclass(${t.text}) and c.contype = 'p'
              and (select array_agg(a.attname::text) from pg_attribute a
                   where a.attrelid = c.conrelid and a.attnum = any(c.conkey)) = array['message_id']) as old_key`);
  if (!shape.has_consumer) {
    // A constant default: PostgreSQL only records it, the table is not rewritten.
    await tx.query(sql`alter table ${t} add column consumer text not null default ''`);
  }
  if (shape.old_key !== null) {
    await tx.query(
      sql`alter table ${t} drop constraint ${sql.id([shape.old_key])}, add primary key (consumer, message_id)`,
    );
  }
  const name = table.split('.').at(-1) as string;
  await tx.query(sql`create index if not exists ${sql.id([`${name}_applied_at`])} on ${t} (applied_at)`);
}
