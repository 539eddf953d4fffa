/**
 * {@link runStatement}, the body of `PgConnection.run()`: one statement on a connection, within the
 * call's signal and deadline. When either fires, the caller is rejected at once and the statement is
 * cancelled on the server, while the connection stays busy — nothing else is sent on it — until the
 * server has answered, which keeps it healthy for the next user.
 * @module
 */
import type pg from 'pg';
import { ConnectionError, Scope, TimeoutError } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import { DatabaseError, isConnectionError, toDatabaseError } from './errors.js';
import type { QueryInput } from './query-input.js';

/**
 * Runs one standalone statement within a call's limits: the pool of dedicated connections and the
 * pipeline group share this signature, so a router can hand a statement to either.
 *
 * @example
 * ```ts
 * const runner: StatementRunner = pool;
 * const res = await runner.run({ text: 'select 1', values: undefined }, NO_LIMITS);
 * ```
 */
export interface StatementRunner {
  run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult>;
}

/**
 * What a statement needs from its connection (`PgConnection`).
 *
 * @example
 * ```ts
 * await runStatement(conn, { text: 'select 1', values: undefined }, NO_LIMITS);
 * ```
 */
export interface StatementHost {
  readonly client: pg.Client;
  readonly settings: {
    readonly secrets: readonly string[];
    onCancel?: (() => void) | undefined;
    readonly wantsWrites?: boolean | undefined;
  };
  /** The host the connection reached, for messages. */
  readonly endpoint?: { readonly target: string } | undefined;
  /** A `READ ONLY` transaction runs on it (its 25006 is the caller's). */
  readonly readOnly?: boolean | undefined;
  readonly broken: Error | undefined;
  readonly busy: Promise<void> | undefined;
  readonly processID: number | undefined;
  markBroken(err: Error): void;
  cancel(): Promise<void>;
}

/**
 * Runs `input` on `conn`. Errors are mapped with `toDatabaseError` (a connection-level error marks
 * `conn` broken) after an `await`, so their stack leads back to the caller; an abort rejects with the
 * signal's own reason, a timeout with a `TimeoutError` that names the backend and the statement.
 * Without a signal and a deadline no Scope or timer is made.
 *
 * @example
 * ```ts
 * const res = await runStatement(conn, { text: 'select pg_sleep(5)', values: undefined }, { signal, deadline });
 * ```
 */
export async function runStatement(
  conn: StatementHost,
  input: QueryInput,
  limits: CallLimits,
): Promise<pg.QueryResult> {
  limits.signal?.throwIfAborted();
  if (conn.busy !== undefined) await conn.busy;
  if (conn.broken !== undefined) throw toDatabaseError(conn.broken, conn.settings.secrets);
  if (limits.signal === undefined && limits.deadline.infinite) {
    try {
      return await submit(conn.client, input);
    } catch (err) {
      throw statementFailure(conn, err);
    }
  }
  const query = submit(conn.client, input);
  // The caller's signal is watched through the kit's shared listener: a signal handed to many
  // concurrent statements costs one listener, not one each.
  using scope = new Scope({
    signal: limits.signal,
    deadline: limits.deadline,
    onAbort: () => {
      conn.settings.onCancel?.();
      void conn.cancel();
    },
  });
  try {
    return await scope.race(query);
  } catch (err) {
    if (!scope.aborted || err !== scope.reason) throw statementFailure(conn, err);
    if (err instanceof TimeoutError && !limits.signal?.aborted) {
      throw new TimeoutError(
        `Query timed out after ${limits.deadline.ms} ms and was cancelled on the server (backend ${conn.processID}): ${preview(input.text)}`,
      );
    }
    throw err;
  }
}

/**
 * `client.query` in its callback form, with the text and values as separate arguments: pg's promise
 * form adds a second promise per query, and a config object is cloned property by property. Rejects
 * with pg's own error: map it with {@link statementFailure} after an `await`, so its stack leads
 * back to the caller.
 *
 * @example
 * ```ts
 * try { return await submit(conn.client, input); } catch (err) { throw statementFailure(conn, err); }
 * ```
 */
export function submit(client: pg.Client, input: QueryInput): Promise<pg.QueryResult> {
  return new Promise<pg.QueryResult>((resolve, reject) => {
    client.query(
      input.text,
      // Left undefined without values: pg then uses the simple protocol (multi-statement text).
      input.values as unknown[],
      (err: Error | null, res: pg.QueryResult) => (err ? reject(err) : resolve(res)),
    );
  });
}

/**
 * What a statement's failure means: a connection-level error marks `conn` broken; the error is
 * mapped to connkit's (`toDatabaseError`, passwords scrubbed). On connections that serve writes, a
 * 25006 (read-only transaction) outside a `READ ONLY` transaction means the server turned read-only
 * under us — a primary demoted or fenced after a failover: the connection is marked broken (never
 * reused; the next one goes to the host that takes writes now) and the caller gets a
 * `ConnectionError` whose `cause` is the server's error. The statement had no effect.
 *
 * @example
 * ```ts
 * throw statementFailure(conn, err);
 * ```
 */
export function statementFailure(
  conn: Pick<StatementHost, 'markBroken' | 'settings' | 'endpoint' | 'readOnly'>,
  err: unknown,
): unknown {
  if (isConnectionError(err) && err instanceof Error) conn.markBroken(err);
  const mapped = toDatabaseError(err, conn.settings.secrets);
  if (!(mapped instanceof DatabaseError) || !turnedReadOnly(conn, mapped)) return mapped;
  const demoted = new ConnectionError(
    `PostgreSQL at ${conn.endpoint?.target ?? 'the server'} refused a write as read-only (25006): it is no longer a primary (demoted or fenced); the connection is dropped and the next one goes to the host that takes writes`,
    { cause: mapped },
  );
  conn.markBroken(demoted);
  return demoted;
}

/**
 * True when `err` (pg's or connkit's) is a 25006 that says the server behind `conn` turned
 * read-only — on a connection that serves writes, outside a `READ ONLY` transaction (see
 * {@link statementFailure}). A pipelined connection checks it when the answer arrives, before its
 * caller maps the error, so that it is not written to again.
 *
 * @example
 * ```ts
 * if (turnedReadOnly(conn, err)) conn.markBroken(err);
 * ```
 */
export function turnedReadOnly(conn: Pick<StatementHost, 'settings' | 'readOnly'>, err: unknown): boolean {
  return (
    (err as { code?: unknown } | null)?.code === READ_ONLY_SQL_TRANSACTION &&
    conn.settings.wantsWrites === true &&
    conn.readOnly !== true
  );
}

/** SQLSTATE read_only_sql_transaction. */
const READ_ONLY_SQL_TRANSACTION = '25006';

/**
 * The start of a statement's text on one line, for messages.
 *
 * @example
 * ```ts
 * preview('select *\n  from t'); // 'select * from t'
 * ```
 */
export function preview(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}
