/**
 * `Transaction`: the handle `db.transaction(fn)` gives `fn`. Its statements run one after another
 * on the transaction's own connection; `tx.transaction(fn)` nests with a SAVEPOINT.
 * @module
 */
import {
  checkSignal,
  describeValue,
  InvalidStateError,
  type SignalOptions,
} from '../../src/internal/index.js';
import { type CallLimits, NO_LIMITS, readCallLimits } from './call-limits.js';
import type { QueryOptions } from './options.js';
import { readQuery, type QueryLike } from './query-input.js';
import { classifyStatement } from './statement-kind.js';
import { Queryable, toResult, type QueryResult } from './queryable.js';
import { runInTransaction, type TransactionState } from './transaction-state.js';

/**
 * A running transaction (or savepoint). Only valid inside the `fn` it was given to.
 *
 * @example
 * ```ts
 * await db.transaction(async (tx) => {
 *   const { id } = await tx.one<{ id: number }>('insert into orders(total) values ($1) returning id', [42]);
 *   await tx.transaction(async (sp) => sp.query('insert into audit(order_id) values ($1)', [id]));
 * });
 * ```
 */
export class Transaction extends Queryable {
  readonly #scope: TransactionState;
  readonly #depth: number;

  /** Made by `db.transaction()` (and `tx.transaction()` for a savepoint), not by hand. */
  constructor(scope: TransactionState, depth = 0) {
    super();
    this.#scope = scope;
    this.#depth = depth;
  }

  /** Aborts when the transaction is aborted or times out; hand it to other work done inside `fn`. */
  get signal(): AbortSignal {
    return this.#scope.signal;
  }

  /**
   * Registers `callback` to run once the whole transaction has committed (and its connection is back
   * in the pool) — never if it rolls back, nor if the savepoint it was registered in is rolled back.
   * For side effects that must follow a commit, such as waking a worker.
   *
   * @example
   * ```ts
   * await db.transaction(async (tx) => {
   *   await tx.query('insert into jobs (name) values ($1)', ['resize']);
   *   tx.afterCommit(() => worker.wake());
   * });
   * ```
   */
  afterCommit(callback: () => void): void {
    if (typeof callback !== 'function') {
      throw new TypeError(`afterCommit callback must be a function, got ${describeValue(callback)}`);
    }
    if (this.#scope.closed) throw new InvalidStateError('Transaction is over: afterCommit() came too late');
    (this.#scope.afterCommit ??= []).push(callback);
  }

  /** Runs a statement inside the transaction (after the statements issued before it). */
  query<R = Record<string, unknown>>(
    query: string | QueryLike,
    values?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<QueryResult<R>> {
    const input = readQuery(query, values);
    if (classifyStatement(input.text) === 'transaction') {
      return Promise.reject(
        new InvalidStateError(
          'Transaction control inside db.transaction() is managed by connkit: use tx.transaction() for a savepoint',
        ),
      );
    }
    const limits = readCallLimits(opts, Infinity, 'Query');
    if (limits instanceof Promise) return limits;
    return runInTransaction(this.#scope, input, limits).then((res) => toResult<R>(res));
  }

  /**
   * Runs `fn` inside a SAVEPOINT: released when `fn` resolves, rolled back to (undoing only `fn`'s
   * work, the outer transaction goes on) when it throws. Resolves with `fn`'s value.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, opts?: SignalOptions): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    for (const key of ['isolation', 'readOnly', 'deferrable', 'retries'] as const) {
      if (opts && key in opts)
        throw new TypeError(`${key} cannot be set on a nested transaction (savepoint)`);
    }
    const signal = checkSignal(opts?.signal);
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    return this.#savepoint(fn, signal === undefined ? NO_LIMITS : { signal, deadline: NO_LIMITS.deadline });
  }

  async #savepoint<T>(fn: (tx: Transaction) => Promise<T>, limits: CallLimits): Promise<T> {
    const name = `connkit_sp_${this.#depth + 1}_${++this.#scope.savepoints}`;
    const step = (text: string, stepLimits: CallLimits) =>
      runInTransaction(this.#scope, { text, values: undefined }, stepLimits);
    await step(`savepoint ${name}`, limits);
    const callbacksBefore = this.#scope.afterCommit?.length ?? 0;
    let result: T;
    try {
      result = await fn(new Transaction(this.#scope, this.#depth + 1));
    } catch (err) {
      // What the rolled-back savepoint registered must not run at the outer commit.
      this.#scope.afterCommit?.splice(callbacksBefore);
      if (!this.#scope.closed && !this.#scope.conn.broken) {
        await step(`rollback to savepoint ${name}`, NO_LIMITS);
        await step(`release savepoint ${name}`, NO_LIMITS);
      }
      throw err;
    }
    await step(`release savepoint ${name}`, limits);
    return result;
  }
}
