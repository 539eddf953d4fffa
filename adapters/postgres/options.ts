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
import { redact } from './errors.js';
import type { PipelineLimits } from './pipeline-slots.js';
import { readUrlTls, type TlsPlan } from './tls-mode.js';

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
 * connection, a cancel sent (CancelRequest or `pg_cancel_backend`), a LISTEN connection lost, an
 * `sslmode` fallback. Details never carry a
 * password or a bound value.
 *
 * @example
 * ```ts
 * new Database({ url, logger: pino() }); // or console
 * ```
 */
export type DatabaseLogger = Logger;

/**
 * Pipeline mode (on by default): standalone statements in flight by the dozen on each of a few
 * shared connections, with guards that send a statement to a dedicated pooled connection instead
 * when pipelining it would make it wait.
 *
 * @example
 * ```ts
 * new Database({ url, pipeline: { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true } });
 * ```
 */
export interface PipelineOptions {
  /** Shared pipelined connections, on top of the pool's `max` (1–64). @default 2 */
  connections?: number | undefined;
  /**
   * Statements in flight on one pipelined connection at most (1–65 536); a statement that finds
   * every pipelined connection this full runs on a dedicated pooled connection. @default 128
   */
  maxDepth?: number | undefined;
  /**
   * Head-of-line protection, in ms: a pipelined connection whose oldest statement has been running
   * longer than this takes no new statements (they would wait behind it) until it finishes; they go
   * to another pipelined connection, or to a dedicated pooled one. Any duration ≥ 0 (`Infinity`:
   * never). @default 10
   */
  stallAfter?: number | undefined;
  /**
   * Run statements with parameters as prepared statements on the pipelined connections (each text
   * parsed and planned once per connection, up to 256 texts): for small statements most of the
   * server's work. A text is prepared afresh when a schema change makes its prepared statement
   * unusable; `false` for a pooler that keeps no prepared statements (PgBouncer in transaction mode
   * before 1.21 — connkit also stops by itself after a few statements it finds gone). @default true
   */
  prepare?: boolean | undefined;
}

/** Defaults of {@link PipelineOptions}. */
const PIPELINE_DEFAULTS = { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true } as const;

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
   * @default undefined — `pg`'s defaults and the `PG*` environment variables
   */
  url?: string | undefined;
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
   * statement takes a pooled connection.
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
export type QueryOptions = WaitOptions;

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
  /** `READ ONLY` transaction. @default false */
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
  clientConfig: pg.ClientConfig;
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
  let parsed: URL | undefined;
  if (opts.url !== undefined) {
    if (typeof opts.url !== 'string')
      throw new TypeError(`url must be a string, got ${describeValue(opts.url)}`);
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new TypeError(`url is not a valid URL: ${JSON.stringify(redact(opts.url, secrets))}`);
    }
    if (parsed.password) secrets.push(parsed.password, decodeURIComponent(parsed.password));
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new TypeError(
        `url must start with postgres://, got ${JSON.stringify(redact(opts.url, secrets))}`,
      );
    }
  }
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
  const clientConfig: pg.ClientConfig = { ...connection, application_name: applicationName };
  let tls: TlsPlan | undefined;
  if (parsed !== undefined) {
    const fromUrl = readUrlTls(new URL(parsed.href), connection.ssl);
    clientConfig.connectionString = fromUrl?.url ?? opts.url;
    tls = fromUrl?.plan;
    if (fromUrl?.negotiation !== undefined) clientConfig.sslnegotiation = fromUrl.negotiation;
  }
  if (statementTimeout > 0 && statementTimeout !== Infinity) {
    clientConfig.statement_timeout = Math.min(Math.ceil(statementTimeout), MAX_STATEMENT_TIMEOUT);
  }
  const host = parsed?.hostname || connection.host || process.env['PGHOST'] || 'localhost';
  const port = parsed?.port || connection.port || process.env['PGPORT'] || 5432;
  const database = parsed?.pathname.slice(1) || connection.database || process.env['PGDATABASE'] || '';
  return {
    clientConfig,
    pool,
    acquireTimeout,
    queryTimeout,
    connectTimeout,
    logger: opts.logger,
    pipeline,
    secrets,
    tls,
    target: `${host}:${port}/${database}`,
  };
}

function readPipelineOptions(opt: DatabaseOptions['pipeline']): PipelineLimits | undefined {
  if (opt === false) return undefined;
  if (opt !== undefined && (typeof opt !== 'object' || opt === null)) {
    throw new TypeError(
      `pipeline must be false or { connections, maxDepth, stallAfter }, got ${describeValue(opt)}`,
    );
  }
  const d = PIPELINE_DEFAULTS;
  return {
    connections: checkInteger(opt?.connections, 'pipeline.connections', d.connections, 1, 64),
    maxDepth: checkInteger(opt?.maxDepth, 'pipeline.maxDepth', d.maxDepth, 1, 65_536),
    stallAfter: checkDuration(opt?.stallAfter, 'pipeline.stallAfter', d.stallAfter),
    prepare: checkBoolean(opt?.prepare, 'pipeline.prepare', d.prepare),
  };
}

function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}
