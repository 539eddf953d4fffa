/**
 * The PostgreSQL adapter's errors, and the two functions that decide what a driver error means:
 * {@link isConnectionError} (the connection is gone → destroy it) and {@link toDatabaseError}
 * (turn whatever `pg` threw into a connkit error, keeping the original as `cause`).
 *
 * @example
 * ```ts
 * import { DatabaseError } from 'connkit/postgres';
 * try { await db.query('insert into t values ($1)', [1]); }
 * catch (err) { if (err instanceof DatabaseError && err.code === '23505') console.log(err.constraint); }
 * ```
 * @module
 */
import { ConnectionError, ConnkitError, TimeoutError } from '../../src/internal/index.js';

export { ConnectionError };

/** SQLSTATEs after which re-running the whole transaction can succeed. */
const RETRYABLE = new Set(['40001', '40P01']);
/** admin_shutdown, crash_shutdown, cannot_connect_now: the backend is gone or going. */
const FATAL_BACKEND = new Set(['57P01', '57P02', '57P03']);
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'EAI_AGAIN',
]);
/** Messages `pg` uses for a connection that died or can no longer be used. */
const DEAD_MESSAGES = [
  'Connection terminated',
  'is not queryable',
  'timeout expired',
  'Query read timeout',
  'Unexpected server response',
];

/** The fields PostgreSQL reports with an error (an `ErrorResponse` message), as `pg` exposes them. */
interface ServerErrorFields {
  code: string;
  severity?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  position?: string | undefined;
  schema?: string | undefined;
  table?: string | undefined;
  column?: string | undefined;
  dataType?: string | undefined;
  constraint?: string | undefined;
  where?: string | undefined;
  routine?: string | undefined;
}

function isServerError(err: unknown): err is Error & ServerErrorFields {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((err as unknown as { code: string }).code) &&
    'severity' in err
  );
}

/**
 * An error reported by the PostgreSQL server for one statement. `code` is the SQLSTATE
 * (`'23505'`, `'40001'` …); the connection it happened on stays usable.
 * `retryable` is true for serialization failures (`40001`) and deadlocks (`40P01`) — the cases
 * `db.transaction(fn, { retries })` re-runs. `55P03` (lock_not_available, from `NOWAIT` or
 * `lock_timeout`) is deliberately *not* retryable: the caller chose not to wait for the lock.
 *
 * @example
 * ```ts
 * const err = await db.query('select 1/0').catch((e: unknown) => e);
 * if (err instanceof DatabaseError) console.log(err.code, err.severity); // '22012' 'ERROR'
 * ```
 */
export class DatabaseError extends ConnkitError {
  /** `ERROR`, `FATAL` or `PANIC`. */
  readonly severity: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  /** 1-based character position of the error in the statement text, as a string. */
  readonly position: string | undefined;
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly dataType: string | undefined;
  readonly constraint: string | undefined;
  readonly where: string | undefined;
  readonly routine: string | undefined;
  /** True when re-running the transaction may succeed (SQLSTATE 40001 or 40P01). */
  readonly retryable: boolean;

  constructor(message: string, fields: ServerErrorFields, options?: { cause?: unknown }) {
    super(message, fields.code, options);
    this.severity = fields.severity;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.schema = fields.schema;
    this.table = fields.table;
    this.column = fields.column;
    this.dataType = fields.dataType;
    this.constraint = fields.constraint;
    this.where = fields.where;
    this.routine = fields.routine;
    this.retryable = RETRYABLE.has(fields.code);
  }
}

/**
 * The connection was lost while COMMIT was on its way, so the transaction's outcome is unknown: the
 * server may have committed it before the loss (a crash, a failover) or not. A `ConnectionError`
 * (code `CONNECTION`); re-running the transaction could apply it twice — check whether its effect is
 * there first, or make it idempotent.
 *
 * @example
 * ```ts
 * try { await db.transaction(pay); }
 * catch (err) { if (err instanceof CommitInDoubtError) await reconcile(); else throw err; }
 * ```
 */
export class CommitInDoubtError extends ConnectionError {
  /** Always true: whether the transaction committed is unknown. */
  readonly inDoubt = true;
}

/**
 * Connecting took longer than `connectTimeout` (a `TimeoutError`, code `TIMEOUT`): the server did
 * not answer — its host is down, frozen or unreachable.
 *
 * @example
 * ```ts
 * if (err instanceof TimeoutError) console.log(err.message); // 'Connecting to PostgreSQL at db:5432/app timed out after 10000 ms'
 * ```
 */
export class ConnectTimeoutError extends TimeoutError {}

/**
 * True when `err` says the server could not be reached or was lost — a {@link ConnectionError}, a
 * {@link ConnectTimeoutError}, or a pool timeout caused by one — rather than a statement's own
 * failure or the caller's timeout (how a read replica is judged down).
 *
 * @example
 * ```ts
 * if (isUnreachable(err)) replicas.markDown(server, err);
 * ```
 */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof ConnectionError || err instanceof ConnectTimeoutError) return true;
  return err instanceof TimeoutError && err.cause !== undefined && isUnreachable(err.cause);
}

/**
 * `db.one()` found no row.
 *
 * @example
 * ```ts
 * await db.one('select 1 where false').catch((e) => e.code); // 'NO_ROWS'
 * ```
 */
export class NoRowsError extends ConnkitError {
  constructor(message = 'Query returned no rows, exactly one was expected') {
    super(message, 'NO_ROWS');
  }
}

/**
 * `db.one()` or `db.maybeOne()` found more than one row.
 *
 * @example
 * ```ts
 * await db.one('select generate_series(1, 2)').catch((e) => e.code); // 'TOO_MANY_ROWS'
 * ```
 */
export class TooManyRowsError extends ConnkitError {
  /** How many rows the query returned. */
  readonly rowCount: number;

  constructor(rowCount: number, expected = 'at most one') {
    super(`Query returned ${rowCount} rows, ${expected} was expected`, 'TOO_MANY_ROWS');
    this.rowCount = rowCount;
  }
}

/**
 * True when `err` means the connection itself is lost or unusable, so it must be destroyed rather
 * than returned to the pool: SQLSTATE class 08, 57P01–57P03, socket errors (`ECONNRESET`, `EPIPE`,
 * `ECONNREFUSED`, `ETIMEDOUT` …) and `pg`'s "Connection terminated" family.
 *
 * @example
 * ```ts
 * client.on('error', (err) => { if (isConnectionError(err)) markBroken(client); });
 * ```
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof ConnectionError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (isServerError(err)) return code.startsWith('08') || FATAL_BACKEND.has(code);
    if (SOCKET_CODES.has(code)) return true;
  }
  return DEAD_MESSAGES.some((m) => err.message.includes(m));
}

/**
 * Maps an error thrown by `pg` to connkit's hierarchy: server errors become {@link DatabaseError}
 * (unless they end the connection), connection failures {@link ConnectionError}; connkit errors
 * and anything else (a `TypeError` from value serialisation, an abort reason) pass through as-is.
 * `secrets` (passwords) are scrubbed from the message.
 *
 * @example
 * ```ts
 * try { await client.query(text); } catch (err) { throw toDatabaseError(err); }
 * ```
 */
export function toDatabaseError(err: unknown, secrets: readonly string[] = []): unknown {
  if (err instanceof ConnkitError || !(err instanceof Error)) return err;
  if (isConnectionError(err)) {
    return new ConnectionError(`PostgreSQL connection lost: ${redact(err.message, secrets)}`, { cause: err });
  }
  if (isServerError(err)) return new DatabaseError(redact(err.message, secrets), err, { cause: err });
  return err;
}

/**
 * Replaces each secret (and any `user:password@` in a URL) in `text` with `***`.
 *
 * @example
 * ```ts
 * redact('postgres://me:pw@h/db', []); // 'postgres://me:***@h/db'
 * ```
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}
