/**
 * connkit/postgres: a PostgreSQL adapter over `pg` — pooled, cancellable queries, transactions with
 * savepoints and retries, pipeline mode, and errors with SQLSTATE codes.
 *
 * @example
 * ```ts
 * import { Database } from 'connkit/postgres';
 * await using db = new Database({ url: process.env.DATABASE_URL });
 * const rows = await db.rows('select * from users where team = $1', ['core']);
 * ```
 * @module
 */
export { Database, type DatabaseStats } from './database.js';
export { Transaction } from './transaction.js';
export { Queryable, type QueryResult } from './queryable.js';
export {
  ConnectionError,
  DatabaseError,
  NoRowsError,
  TooManyRowsError,
  isConnectionError,
  toDatabaseError,
} from './errors.js';
export type {
  DatabaseLogger,
  DatabaseOptions,
  IsolationLevel,
  PipelineOptions,
  QueryOptions,
  TransactionOptions,
} from './options.js';
export { MAX_PARAMETERS, type QueryLike } from './query-input.js';
export { sendCancelRequest, type CancelTarget } from './cancel.js';
export { sql, isSqlQuery, SqlQuery, type Sql } from './sql.js';
export { streamRows, type StreamOptions } from './stream.js';
export { listen, Subscription, type ListenConnect, type ListenOptions, type Notification } from './listen.js';
export { notify, type NotifyTarget } from './notify.js';
export { copyFrom, copyTo, type CopyFromOptions, type CopySource, type CopyToOptions } from './copy.js';
export type { AcquireClient, ClientLease } from './client-lease.js';
