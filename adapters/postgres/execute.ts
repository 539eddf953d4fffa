/**
 * Runs one statement on a connection that nobody else uses at the same time, honouring abort
 * signals and a deadline: when either fires, the statement is cancelled on the server
 * (CancelRequest), the caller is rejected at once, and the connection stays busy — so nothing else
 * is sent on it — until the server has answered, which keeps it healthy for the next user.
 * @module
 */
import type pg from 'pg';
import { Scope, startTimer, TimeoutError, unwatchAbort, watchAbort } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import { cancelBackend } from './cancel.js';
import type { ConnectSettings, PgConnection } from './connection.js';
import { isConnectionError, toDatabaseError } from './errors.js';
import type { QueryInput } from './query-input.js';

/** Milliseconds a cancelled statement may take to stop before its connection is destroyed. */
const CANCEL_GRACE = 5_000;

/**
 * What {@link execute} needs besides the statement.
 *
 * @example
 * ```ts
 * const ctx: ExecuteContext = { settings, onCancel: () => cancellations++ };
 * ```
 */
export interface ExecuteContext {
  settings: ConnectSettings;
  /** Counts cancellations for `db.stats()`. */
  onCancel?: (() => void) | undefined;
}

/**
 * Runs `input` on `conn` within `limits`: the signal aborts it (rejecting with its reason), the
 * deadline times it out with `TimeoutError`; `outer` (a transaction's scope) aborts it too. Errors
 * are mapped with `toDatabaseError`; a connection-level error marks `conn` broken.
 *
 * @example
 * ```ts
 * const res = await execute(conn, { text: 'select pg_sleep(5)', values: undefined }, { signal, deadline }, ctx);
 * ```
 */
export async function execute(
  conn: PgConnection,
  input: QueryInput,
  limits: CallLimits,
  ctx: ExecuteContext,
  outer?: AbortSignal,
): Promise<pg.QueryResult> {
  outer?.throwIfAborted();
  limits.signal?.throwIfAborted();
  if (conn.busy) await conn.busy;
  if (conn.broken) throw toDatabaseError(conn.broken, ctx.settings.secrets);
  if (limits.signal === undefined && outer === undefined && limits.deadline.infinite) {
    try {
      return await submit(conn.client, input);
    } catch (err) {
      // Made here, not in pg's callback: the stack then leads back to the caller (async frames).
      throw fail(conn, err, ctx);
    }
  }
  const query = submit(conn.client, input);
  // One Scope per statement, watching the caller's signal through the shared listener (a signal
  // handed to many concurrent statements costs one listener) and the deadline through a timer that
  // takes any duration.
  const scope = new Scope({
    signal: limits.signal,
    deadline: limits.deadline,
    onAbort: () => {
      ctx.onCancel?.();
      conn.busy = cancelAndDrain(conn, query, ctx.settings);
    },
  });
  if (outer !== undefined) watchAbort(outer, scope);
  try {
    return await scope.race(query);
  } catch (err) {
    // Errors are made here, after an await, rather than in pg's or the timer's callback: their stack
    // then leads back to the caller. An abort rejects with the signal's own reason, untouched.
    if (!scope.aborted || err !== scope.reason) throw fail(conn, err, ctx);
    if (err instanceof TimeoutError && !limits.signal?.aborted && !outer?.aborted) {
      throw new TimeoutError(
        `Query timed out after ${limits.deadline.ms} ms and was cancelled on the server (backend ${conn.processID}): ${preview(input.text)}`,
      );
    }
    throw err;
  } finally {
    scope.dispose();
    if (outer !== undefined) unwatchAbort(outer, scope);
  }
}

/**
 * `client.query` in its callback form, with the text and values as separate arguments: pg's promise
 * form adds a second promise per query, and a config object is cloned property by property.
 * Rejects with pg's own error; map it (toDatabaseError) after an `await`, so its stack leads back
 * to the caller.
 *
 * @example
 * ```ts
 * const res = await submit(conn.client, { text: 'select $1::int', values: [1] });
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

function fail(conn: PgConnection, err: unknown, ctx: ExecuteContext): unknown {
  if (isConnectionError(err) && err instanceof Error) conn.markBroken(err);
  return toDatabaseError(err, ctx.settings.secrets);
}

/**
 * Cancels on the server and resolves once the statement is over and the cancel request is done
 * (a late cancel must not hit the next statement) — or, after CANCEL_GRACE, destroys the connection.
 */
async function cancelAndDrain(
  conn: PgConnection,
  query: Promise<unknown>,
  settings: ConnectSettings,
): Promise<void> {
  let over = false;
  const finished = query.then(
    () => {
      over = true;
    },
    (err: unknown) => {
      over = true;
      if (isConnectionError(err) && err instanceof Error) conn.markBroken(err);
    },
  );
  let stopGrace: (() => void) | undefined;
  const expired = new Promise<void>((resolve) => {
    stopGrace = startTimer(CANCEL_GRACE, () => {
      conn.markBroken(new Error(`Cancelled statement did not stop within ${CANCEL_GRACE} ms`));
      void conn.close();
      resolve();
    });
  });
  const cancelled = (async () => {
    // Checked after a turn of the loop: a result already on its way needs no cancel.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!over) await cancelBackend(conn.client, settings);
  })();
  await Promise.race([Promise.all([finished, cancelled]), expired]);
  stopGrace?.();
  conn.busy = undefined;
}

function preview(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

/**
 * Cancels whatever `conn` runs now (a statement issued through the raw client, e.g. inside
 * `withClient`) and resolves once the client is idle again or the connection was destroyed.
 *
 * @example
 * ```ts
 * conn.busy ??= cancelActive(conn, settings);
 * ```
 */
export function cancelActive(conn: PgConnection, settings: ConnectSettings): Promise<void> {
  const client = conn.client as unknown as { _activeQuery: unknown; _queryQueue: unknown[] } & pg.Client;
  if (!client._activeQuery && client._queryQueue.length === 0) return Promise.resolve();
  const idle = new Promise<void>((resolve) => {
    const done = (): void => {
      client.off('drain', done);
      client.off('end', done);
      resolve();
    };
    client.on('drain', done);
    client.on('end', done);
  });
  return cancelAndDrain(conn, idle, settings);
}
