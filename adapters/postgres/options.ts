/**
 * Options of {@link Database} and of its calls, validated and given their defaults in one place
 * ({@link resolveDatabaseOptions}).
 * @module
 */
import type pg from 'pg';
import {
  checkDuration,
  checkInteger,
  describeValue,
  type Logger,
  type PoolOptions,
  type WaitOptions,
} from '../../src/internal/index.js';
import { type PipelineOptions, readPipelineOptions } from './pipeline-options.js';
import type { PipelineLimits } from './pipeline-slots.js';
import { clientConfigFor, readServers } from './server-options.js';
import type { ServerAddress } from './server-url.js';
import type { TlsPlan } from './tls-mode.js';

/**
 * The largest `statement_timeout` PostgreSQL accepts (ms, an int4 GUC): a longer one is sent as this
 * (~24.8 days), which no statement tells apart from the longer wait.
 *
 * @example
 * ```ts
 * const st = Math.min(Math.ceil(ms), MAX_STATEMENT_TIMEOUT);
 * ```
 */
export const MAX_STATEMENT_TIMEOUT = 2_147_483_647;

/**
 * The kit's {@link Logger} (details first, then the message — pino's signature). `warn`: what the
 * adapter cannot throw — a connection lost while idle, a pipelined connection that failed to open, a
 * connection given back inside a transaction. `info`: a LISTEN subscription reconnected. `debug`
 * (for someone chasing a reconnect or a slow pool): each connection opened and closed (with its
 * backend pid), a pipelined connection lost and replaced, a statement moved off a stalled pipelined
 * connection, a commit's wait for a synchronous standby cut short by such a move (its replication
 * confirmed before the caller is answered), a cancel sent (CancelRequest or `pg_cancel_backend`), a
 * LISTEN connection lost, an `sslmode` fallback. Details never carry a password or a bound value.
 *
 * @example
 * ```ts
 * new Database({ url, logger: pino() }); // or console
 * ```
 */
export type DatabaseLogger = Logger;

/**
 * Options of `new Database(opts)`.
 *
 * @example
 * ```ts
 * const db = new Database({ url: process.env.DATABASE_URL, pool: { max: 10 }, queryTimeout: 5_000 });
 * ```
 */
export interface DatabaseOptions {
  /**
   * Connection string `postgres://user:password@host:port/database?sslmode=…`. Parameters in the URL
   * win over the same fields in `connection` (that is how `pg` merges them).
   *
   * TLS parameters have libpq's meaning (connkit reads them itself; pg never sees them, so it prints
   * no SECURITY WARNING): `sslmode=disable` plain text; `allow` plain text, TLS if the server insists;
   * `prefer` (libpq's default when only `sslrootcert`/`sslcert`/`sslkey` are given) TLS when the
   * server offers it, else plain text; `require` encrypted, the certificate not verified — unless a
   * root certificate is given, then as `verify-ca`; `verify-ca` the chain verified against
   * `sslrootcert` but not the host name; `verify-full` chain and host name verified (against
   * `sslrootcert`, or the system's CAs with `sslrootcert=system` or none). `sslrootcert`, `sslcert`,
   * `sslkey` are file paths, read at every connect (rotated certificates are picked up);
   * `sslnegotiation=direct` starts TLS without the SSLRequest round trip. Options of a
   * `connection.ssl` object (`ca`, `servername` …) are kept under the URL's mode. Without TLS
   * parameters in the URL, `connection.ssl` and pg's defaults apply as they are.
   *
   * Several hosts, libpq's way: `postgres://u:pw@10.0.0.1:5432,10.0.0.2:5432/app?target_session_attrs=read-write`
   * (or `?host=10.0.0.1,10.0.0.2&port=5432`), tried in order for every new connection; a host that
   * cannot be reached costs at most `connectTimeout`. `target_session_attrs` (else
   * `PGTARGETSESSIONATTRS`) has libpq's meaning: `any` (default), `read-write`, `read-only`,
   * `primary`, `standby`, `prefer-standby`. With `read-write` (or `primary`) a failover needs no
   * restart: connections to a dead or demoted primary are dropped and new ones find the host that now
   * takes writes; a statement refused with SQLSTATE 25006 (the server turned read-only) fails with a
   * `ConnectionError` and its connection is not reused.
   * @default undefined — `pg`'s defaults and the `PG*` environment variables
   */
  url?: string | undefined;
  /**
   * Read replicas, each a URL (multi-host allowed) of the same database as `url`: `readOnly: true`
   * work runs on a healthy one (spread over them). A replica that fails is marked unhealthy and probed
   * with backoff; meanwhile its reads run on the primary. @default [] — everything on the primary
   */
  replicas?: readonly string[] | undefined;
  /**
   * A direct URL to the primary for `listen()`, when `url` goes through a transaction-mode pooler
   * (PgBouncer), where a LISTEN would silently receive nothing. Without it, `listen()` through a
   * pooler rejects with an error that says so (a pooler is recognised by the backend pid it hands
   * out not being the session's `pg_backend_pid()`; a session-mode pooler, where LISTEN does work,
   * looks the same: give its URL here to use it). @default undefined — `url`
   */
  listenUrl?: string | undefined;
  /** Passed to `new pg.Client()` as-is (`ssl`, `host`, `password`, `keepAlive`, `types` …). @default {} */
  connection?: pg.ClientConfig | undefined;
  /** The connection pool (`max`, `acquireTimeout`, `idleTimeout` …, see core `Pool`). @default core Pool defaults (max 10) */
  pool?: PoolOptions | undefined;
  /** Server-side `statement_timeout` in ms, sent at connect time; `0` = none. @default undefined (server setting) */
  statementTimeout?: number | undefined;
  /**
   * Default `timeout` of every query, in ms, from the call to the result (waiting for a connection
   * included). On expiry the statement is cancelled on the server. @default Infinity
   */
  queryTimeout?: number | undefined;
  /** Milliseconds one connection attempt may take. @default 10_000 */
  connectTimeout?: number | undefined;
  /** `application_name` shown in `pg_stat_activity`. @default 'connkit' */
  applicationName?: string | undefined;
  /** Receives warnings the adapter cannot throw. @default undefined (silent) */
  logger?: DatabaseLogger | undefined;
  /**
   * Pipeline mode: standalone `db.query()`/`rows()`/`one()`/`maybeOne()` calls (with or without
   * `signal`/`timeout`) share a few connections on which many statements are in flight at once — no
   * round trip per statement, so several times the throughput of one statement per connection.
   * Statements that hold or change session state (`SET`, `LISTEN`, temp tables, advisory locks,
   * cursors, COPY …), transactions, `withClient`, streams and COPY always use dedicated pooled
   * connections. Guards keep it safe by default: a connection whose oldest statement runs longer than
   * `stallAfter` takes no new statements; at most `maxDepth` are in flight per connection; an abort
   * or timeout answers its caller at once and cancels the statement on the server only while it runs
   * (a neighbour a late cancel hits had no effect and is re-sent). `false` turns it off: every
   * statement takes a pooled connection. Each server has its own pipelined connections and pool:
   * the primary, and every read replica (`readOnly: true` statements are pipelined there).
   * @default { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true }
   */
  pipeline?: false | PipelineOptions | undefined;
}

/**
 * Options of `db.query()`, `rows()`, `one()`, `maybeOne()`.
 *
 * @example
 * ```ts
 * await db.query('select pg_sleep(1)', [], { timeout: 500, signal });
 * ```
 */
export interface QueryOptions extends WaitOptions {
  /**
   * Run on a healthy read replica (`replicas`), or on the primary when there is none (a write with
   * `readOnly` then fails with 25006 only when a replica took it). Inside a transaction it changes
   * nothing: the statement runs where the transaction runs. @default false
   */
  readOnly?: boolean | undefined;
}

/**
 * The isolation levels `db.transaction()` accepts.
 *
 * @example
 * ```ts
 * const level: IsolationLevel = 'serializable';
 * ```
 */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/**
 * Options of `db.transaction(fn, opts)`.
 *
 * @example
 * ```ts
 * await db.transaction(async (tx) => { … }, { isolation: 'serializable', retries: 3, timeout: 10_000 });
 * ```
 */
export interface TransactionOptions extends WaitOptions {
  /** @default the server's `default_transaction_isolation` (normally read committed) */
  isolation?: IsolationLevel | undefined;
  /** `READ ONLY` transaction, on a healthy read replica when `replicas` are given (else on the primary). @default false */
  readOnly?: boolean | undefined;
  /** `DEFERRABLE` (only meaningful with serializable + readOnly). @default false */
  deferrable?: boolean | undefined;
  /** Extra runs of `fn` after a serialization failure (40001) or deadlock (40P01). @default 0 */
  retries?: number | undefined;
}

/**
 * The validated form of {@link DatabaseOptions}.
 *
 * @example
 * ```ts
 * const { clientConfig, queryTimeout } = resolveDatabaseOptions({ url });
 * ```
 */
export interface ResolvedDatabaseOptions {
  /** The primary's pg config. */
  clientConfig: pg.ClientConfig;
  /** What every server's pg config starts from (`connection`, application name, statement timeout). */
  baseConfig: pg.ClientConfig;
  pool: PoolOptions;
  acquireTimeout: number;
  queryTimeout: number;
  connectTimeout: number;
  logger: DatabaseLogger | undefined;
  /** Pipeline mode's size and guards; undefined = off. */
  pipeline: PipelineLimits | undefined;
  /** Passwords to scrub from messages. */
  secrets: string[];
  /** TLS from the URL's `sslmode` & co. (libpq semantics); undefined when the URL has none. */
  tls: TlsPlan | undefined;
  /** `host:port/database` (never the password), for messages. */
  target: string;
  /** The primary: `url` (or `connection`), its hosts and `target_session_attrs`. */
  primary: ServerAddress;
  /** The read replicas, in the order given. */
  replicas: ServerAddress[];
  /** `listenUrl`, when given. */
  listen: ServerAddress | undefined;
}

const ISOLATION = new Set<unknown>(['read committed', 'repeatable read', 'serializable']);

/**
 * Validates transaction options (synchronously; bad values → TypeError/RangeError).
 *
 * @example
 * ```ts
 * const retries = checkTransactionOptions({ isolation: 'serializable', retries: 3 }); // 3
 * ```
 */
export function checkTransactionOptions(opts: TransactionOptions | undefined): number {
  if (opts?.isolation !== undefined && !ISOLATION.has(opts.isolation)) {
    throw new RangeError(
      `isolation must be 'read committed', 'repeatable read' or 'serializable', got ${describeValue(opts.isolation)}`,
    );
  }
  for (const key of ['readOnly', 'deferrable'] as const) {
    const v = opts?.[key];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new TypeError(`${key} must be a boolean, got ${describeValue(v)}`);
    }
  }
  return checkInteger(opts?.retries, 'retries', 0, 0, 1000);
}

/**
 * Applies defaults and validates; throws TypeError/RangeError quoting the bad value (password redacted).
 *
 * @example
 * ```ts
 * resolveDatabaseOptions({ url: 'postgres://app@db/app', queryTimeout: 5000 }).target; // 'db:5432/app'
 * ```
 */
export function resolveDatabaseOptions(opts: DatabaseOptions = {}): ResolvedDatabaseOptions {
  if (typeof opts !== 'object' || opts === null) {
    throw new TypeError(`Database options must be an object, got ${describeValue(opts)}`);
  }
  const secrets: string[] = [];
  const connection = opts.connection ?? {};
  if (typeof connection !== 'object' || connection === null) {
    throw new TypeError(`connection must be a pg.ClientConfig object, got ${describeValue(connection)}`);
  }
  if (typeof connection.password === 'string') secrets.push(connection.password);
  const { primary, replicas, listen } = readServers(opts, connection, secrets);
  const statementTimeout = checkDuration(opts.statementTimeout, 'statementTimeout', 0);
  const queryTimeout = checkDuration(opts.queryTimeout, 'queryTimeout', Infinity);
  const connectTimeout = checkDuration(opts.connectTimeout, 'connectTimeout', 10_000);
  const applicationName = opts.applicationName ?? 'connkit';
  if (typeof applicationName !== 'string') {
    throw new TypeError(`applicationName must be a string, got ${describeValue(applicationName)}`);
  }
  const pipeline = readPipelineOptions(opts.pipeline);
  const pool = opts.pool ?? {};
  const acquireTimeout = checkDuration(pool.acquireTimeout, 'pool.acquireTimeout', 10_000);
  const baseConfig: pg.ClientConfig = { ...connection, application_name: applicationName };
  if (statementTimeout > 0 && statementTimeout !== Infinity) {
    baseConfig.statement_timeout = Math.min(Math.ceil(statementTimeout), MAX_STATEMENT_TIMEOUT);
  }
  return {
    clientConfig: clientConfigFor(baseConfig, primary),
    baseConfig,
    pool,
    acquireTimeout,
    queryTimeout,
    connectTimeout,
    logger: opts.logger,
    pipeline,
    secrets,
    tls: primary.tls,
    target: primary.target,
    primary,
    replicas,
    listen,
  };
}
