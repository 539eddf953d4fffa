/**
 * connkit/postgres: a PostgreSQL adapter over `pg` — pooled, cancellable queries, transactions with
 * savepoints and retries, pipeline mode, cursor streams, COPY, LISTEN/NOTIFY, and errors with
 * SQLSTATE codes. Everything goes through a {@link Database}.
 *
 * @example
 * ```ts
 * import { Database } from 'connkit/postgres';
 * await using db = new Database({ url: process.env.DATABASE_URL });
 * const rows = await db.rows('select * from users where team = $1', ['core']);
 * ```
 * @module
 */
export { Database } from './database.js';
export type { DatabaseStats } from './database-stats.js';
export type { ReplicaStats } from './replica-set.js';
export type { TargetSessionAttrs } from './target-session.js';
export { Transaction } from './transaction.js';
export { Queryable, type QueryResult } from './queryable.js';
export {
  CommitInDoubtError,
  ConnectTimeoutError,
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
  QueryOptions,
  TransactionOptions,
} from './options.js';
export type { PipelineOptions } from './pipeline-options.js';
export { MAX_PARAMETERS, type QueryLike } from './query-input.js';
export { sql, isSqlQuery, SqlQuery, type Sql } from './sql.js';
export type { StreamOptions } from './stream.js';
export { Subscription } from './subscription.js';
export type { ListenOptions, Notification } from './listen-options.js';
export type { CopyFromOptions, CopySource, CopyToOptions } from './copy.js';
