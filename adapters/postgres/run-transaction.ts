/**
 * The body of `db.transaction()`: BEGIN, run `fn`, COMMIT — or ROLLBACK on throw, abort or timeout —
 * and re-run on serialization failures and deadlocks when `retries` allows.
 * @module
 */
import {
  backoffDelay,
  Deadline,
  InvalidStateError,
  type Lease,
  now,
  PoolClosedError,
  sleep,
} from '../../src/internal/index.js';
import { type CallLimits, callScope, NO_LIMITS, readCallLimits } from './call-limits.js';
import type { PgConnection } from './connection.js';
import { CommitInDoubtError, DatabaseError, isConnectionError } from './errors.js';
import { checkTransactionOptions, type TransactionOptions } from './options.js';
import { Transaction } from './transaction.js';
import type { QueryTelemetry } from './query-telemetry.js';
import { runInTransaction, runOnConnection, type TransactionState } from './transaction-state.js';

/**
 * What `runTransaction` needs from its `Database`.
 *
 * @example
 * ```ts
 * runTransaction(fn, opts, { acquire, release, closed: () => false, onQuery() {}, onEnd() {} });
 * ```
 */
export interface TransactionHost {
  acquire(signal: AbortSignal | undefined, deadline: Deadline): Promise<Lease<PgConnection>>;
  release(lease: Lease<PgConnection>): Promise<void>;
  closed(): boolean;
  onQuery(failed: boolean): void;
  onEnd(committed: boolean): void;
  /** The server's statement observers, given to every statement of the transaction. */
  telemetry?: QueryTelemetry | undefined;
}

/** Milliseconds a ROLLBACK may take before the connection is given up. */
const ROLLBACK_MS = 5_000;
const COMMIT = { text: 'commit', values: undefined };
const ROLLBACK = { text: 'rollback', values: undefined };

/**
 * Builds `BEGIN [ISOLATION LEVEL …] [READ ONLY] [DEFERRABLE]` from validated options.
 *
 * @example
 * ```ts
 * beginStatement({ isolation: 'serializable', readOnly: true }); // 'begin isolation level serializable read only'
 * ```
 */
export function beginStatement(opts: TransactionOptions | undefined): string {
  let text = 'begin';
  if (opts?.isolation) text += ` isolation level ${opts.isolation}`;
  if (opts?.readOnly) text += ' read only';
  if (opts?.deferrable) text += ' deferrable';
  return text;
}

/**
 * Runs a transaction (see `Database.transaction`). Validates synchronously; the rest is async.
 *
 * @example
 * ```ts
 * return runTransaction(fn, { retries: 3 }, host);
 * ```
 */
export function runTransaction<T>(
  fn: (tx: Transaction) => Promise<T>,
  opts: TransactionOptions | undefined,
  host: TransactionHost,
): Promise<T> {
  const retries = checkTransactionOptions(opts);
  const begin = beginStatement(opts);
  const limits = readCallLimits(opts, Infinity, 'transaction()');
  if (limits instanceof Promise) return limits;
  return (async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await attemptOnce(fn, begin, opts?.readOnly === true, limits, host);
      } catch (err) {
        if (!(err instanceof DatabaseError) || !err.retryable || attempt > retries) throw err;
        const delay = backoffDelay(attempt, { initialDelay: 10, maxDelay: 1_000 });
        if (now() + delay >= limits.deadline.at) throw err;
        await sleep(delay, { signal: limits.signal });
      }
    }
  })();
}

async function attemptOnce<T>(
  fn: (tx: Transaction) => Promise<T>,
  begin: string,
  readOnly: boolean,
  limits: CallLimits,
  host: TransactionHost,
): Promise<T> {
  if (host.closed()) throw new PoolClosedError('Database is closed');
  const lease = await host.acquire(limits.signal, limits.deadline);
  const conn = lease.resource;
  const scope = callScope(limits, 'transaction()');
  const state: TransactionState = {
    conn,
    signal: scope.signal,
    closed: false,
    tail: Promise.resolve(),
    savepoints: 0,
    onQuery: (failed) => host.onQuery(failed),
    telemetry: host.telemetry,
  };
  const tx = new Transaction(state);
  let committed = false;
  let result: T;
  conn.readOnly = readOnly;
  try {
    await runInTransaction(state, { text: begin, values: undefined }, NO_LIMITS);
    result = await scope.race(fn(tx));
    const res = await commit(state);
    // COMMIT of a transaction in which a statement failed (and fn swallowed the error) rolls back.
    if (res.command === 'ROLLBACK') {
      throw new InvalidStateError('Transaction was rolled back at COMMIT: a statement in it had failed');
    }
    committed = true;
  } finally {
    conn.readOnly = false;
    state.closed = true;
    scope.dispose();
    if (!committed) await rollback(conn, state);
    host.onEnd(committed);
    await host.release(lease);
  }
  for (const callback of state.afterCommit ?? []) {
    try {
      callback();
    } catch (err) {
      // The commit stands; a failing callback must not turn it into a rejection (fn would re-run).
      process.emitWarning(`transaction afterCommit callback threw: ${String(err)}`, 'ConnkitWarning');
    }
  }
  return result;
}

/**
 * COMMIT. When the connection is lost after COMMIT was sent, nobody knows whether the server
 * committed: that is a {@link CommitInDoubtError}, never a plain failure (re-running fn could apply
 * it twice) nor a success.
 */
async function commit(state: TransactionState): Promise<{ command: string }> {
  const sentOnLiveConnection = state.conn.broken === undefined;
  try {
    return await runInTransaction(state, COMMIT, NO_LIMITS);
  } catch (err) {
    if (!sentOnLiveConnection || !isConnectionError(err)) throw err;
    throw new CommitInDoubtError(
      `Connection to PostgreSQL at ${state.conn.endpoint.target} lost during COMMIT: the transaction may or may not have committed`,
      { cause: err },
    );
  }
}

async function rollback(conn: PgConnection, state: TransactionState): Promise<void> {
  await state.tail;
  if (conn.broken !== undefined || conn.idle) return;
  try {
    // Straight on the connection: the transaction's own scope may be what aborted.
    await runOnConnection(state, ROLLBACK, { signal: undefined, deadline: Deadline.after(ROLLBACK_MS) });
  } catch {
    // The release path sees the connection still in a transaction (or broken) and destroys it.
  }
}
