/**
 * DDL of the outbox and inbox tables. Table names may be schema-qualified (`app.outbox`); they are
 * always quoted identifiers, never spliced in raw.
 * @module
 */
import { sql, type SqlQuery } from '../postgres/sql.js';

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
    last_error text
  )`;
}

/** `CREATE TABLE IF NOT EXISTS` for an inbox: the ids of messages already applied. */
export function inboxDdl(table: string): SqlQuery {
  return sql`create table if not exists ${tableId(table)} (
    message_id text primary key,
    applied_at timestamptz not null default clock_timestamp()
  )`;
}
