/**
 * What a transaction and its savepoints share ({@link TransactionState}), and
 * {@link runInTransaction}: each statement runs after the ones issued before it, bounded by the
 * transaction's scope and by its own call's limits.
 * @module
 */
import type pg from 'pg';
import { InvalidStateError, Scope, unwatchAbort, watchAbort } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import type { PgConnection } from './connection.js';
import type { QueryInput } from './query-input.js';
import { observeStatement, type QueryTelemetry } from './query-telemetry.js';

/**
 * State shared by a transaction and its savepoints.
 *
 * @example
 * ```ts
 * const state: TransactionState = { conn, signal: scope.signal, closed: false, tail: Promise.resolve(), savepoints: 0 };
 * ```
 */
export interface TransactionState {
  conn: PgConnection;
  /** Aborts when the transaction's signal aborts or its timeout expires. */
  signal: AbortSignal;
  /** Set once the transaction is over (committed, rolled back, or abandoned on abort). */
  closed: boolean;
  /** Serialises statements: pg must not be handed a second one while the first runs. */
  tail: Promise<unknown>;
  savepoints: number;
  onQuery?: ((failed: boolean) => void) | undefined;
  /** Callbacks to run once the transaction has committed (see `Transaction.afterCommit`). */
  afterCommit?: (() => void)[] | undefined;
  /** Its server's statement observers (the `connkit:postgres:query` channel, metrics). */
  telemetry?: QueryTelemetry | undefined;
}

/**
 * Runs `input` in the transaction once the statements issued before it are done; refuses once the
 * transaction is over. The transaction's abort or timeout cancels it like its own `limits` do.
 *
 * @example
 * ```ts
 * await runInTransaction(state, { text: 'commit', values: undefined }, NO_LIMITS);
 * ```
 */
export function runInTransaction(
  state: TransactionState,
  input: QueryInput,
  limits: CallLimits,
): Promise<pg.QueryResult> {
  const telemetry = state.telemetry;
  return telemetry !== undefined && telemetry.active
    ? telemetry.observe(input, false, true, () => runAfterTail(state, input, limits))
    : runAfterTail(state, input, limits);
}

/**
 * A statement of the transaction run straight on its connection — not queued behind the others, not
 * bound to the transaction's signal (which may be what aborted): its final ROLLBACK. Observed like
 * {@link runInTransaction}'s statements.
 *
 * @example
 * ```ts
 * await runOnConnection(state, ROLLBACK, { signal: undefined, deadline: Deadline.after(5_000) });
 * ```
 */
export function runOnConnection(
  state: TransactionState,
  input: QueryInput,
  limits: CallLimits,
): Promise<pg.QueryResult> {
  return observeStatement(state.telemetry, input, false, true, () => state.conn.run(input, limits));
}

function runAfterTail(
  state: TransactionState,
  input: QueryInput,
  limits: CallLimits,
): Promise<pg.QueryResult> {
  const step = state.tail.then(() => {
    if (state.closed) {
      throw new InvalidStateError('Transaction is over: it was committed, rolled back or aborted');
    }
    state.signal.throwIfAborted();
    return runWithin(state.conn, input, limits, state.signal);
  });
  state.tail = step.then(
    () => state.onQuery?.(false),
    () => state.onQuery?.(true),
  );
  return step;
}

async function runWithin(
  conn: PgConnection,
  input: QueryInput,
  limits: CallLimits,
  transaction: AbortSignal,
): Promise<pg.QueryResult> {
  if (limits.signal === undefined) return conn.run(input, { signal: transaction, deadline: limits.deadline });
  // The call's own signal and the transaction's: one scope follows both (one shared listener each).
  using link = new Scope({ signal: limits.signal });
  watchAbort(transaction, link);
  try {
    return await conn.run(input, { signal: link.signal, deadline: limits.deadline });
  } finally {
    unwatchAbort(transaction, link);
  }
}
