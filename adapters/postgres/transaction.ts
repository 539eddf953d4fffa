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
import type { PgConnection } from './connection.js';
import { execute, type ExecuteContext } from './execute.js';
import type { QueryOptions } from './options.js';
import { readQuery, type QueryLike } from './query-input.js';
import { classifyStatement } from './statement-kind.js';
import { Queryable, toResult, type QueryResult } from './queryable.js';

/**
 * State shared by a transaction and its savepoints.
 *
 * @example
 * ```ts
 * const tx = new Transaction({ conn, ctx, signal, closed: false, tail: Promise.resolve(), savepoints: 0 });
 * ```
 */
export interface TransactionScope {
  conn: PgConnection;
  ctx: ExecuteContext;
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
}

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
  readonly #scope: TransactionScope;
  readonly #depth: number;

  constructor(scope: TransactionScope, depth = 0) {
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
    return this.run(input.text, input.values, limits).then((res) => toResult<R>(res));
  }

  /** @internal Runs a statement in order, refusing once the transaction is over (used by connkit). */
  run(text: string, values: unknown[] | undefined, limits: CallLimits) {
    const scope = this.#scope;
    const step = scope.tail.then(() => {
      if (scope.closed)
        throw new InvalidStateError('Transaction is over: it was committed, rolled back or aborted');
      scope.signal.throwIfAborted();
      return execute(scope.conn, { text, values }, limits, scope.ctx, scope.signal);
    });
    scope.tail = step.then(
      () => scope.onQuery?.(false),
      () => scope.onQuery?.(true),
    );
    return step;
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
    await this.run(`savepoint ${name}`, undefined, limits);
    const callbacksBefore = this.#scope.afterCommit?.length ?? 0;
    let result: T;
    try {
      result = await fn(new Transaction(this.#scope, this.#depth + 1));
    } catch (err) {
      // What the rolled-back savepoint registered must not run at the outer commit.
      this.#scope.afterCommit?.splice(callbacksBefore);
      if (!this.#scope.closed && !this.#scope.conn.broken) {
        await this.run(`rollback to savepoint ${name}`, undefined, NO_LIMITS);
        await this.run(`release savepoint ${name}`, undefined, NO_LIMITS);
      }
      throw err;
    }
    await this.run(`release savepoint ${name}`, undefined, limits);
    return result;
  }
}
