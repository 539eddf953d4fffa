/**
 * What `Database` and `Transaction` share: `rows()`, `one()` and `maybeOne()` on top of `query()`.
 * @module
 */
import type pg from 'pg';
import { NoRowsError, TooManyRowsError } from './errors.js';
import type { QueryOptions } from './options.js';
import type { QueryLike } from './query-input.js';

/**
 * The result of a query.
 *
 * @example
 * ```ts
 * const { rows, rowCount, command } = await db.query<{ id: number }>('delete from t returning id');
 * ```
 */
export interface QueryResult<R> {
  rows: R[];
  /** Rows returned or affected (`INSERT`/`UPDATE`/`DELETE` count). */
  rowCount: number;
  fields: pg.FieldDef[];
  /** The command tag: `'SELECT'`, `'INSERT'` … */
  command: string;
}

/**
 * Turns pg's result into a {@link QueryResult}.
 *
 * @example
 * ```ts
 * const result = toResult<{ n: number }>(await client.query('select 1 as n'));
 * ```
 */
export function toResult<R>(result: pg.QueryResult | pg.QueryResult[]): QueryResult<R> {
  // Text of several statements without values (simple protocol): pg answers one result per
  // statement; like psql -c, the last one is the answer.
  const res = Array.isArray(result) ? result[result.length - 1] : result;
  if (res === undefined) return { rows: [], rowCount: 0, fields: [], command: '' };
  return {
    rows: res.rows as R[],
    rowCount: res.rowCount ?? res.rows.length,
    fields: res.fields,
    command: res.command,
  };
}

/**
 * Base of everything you can run queries on.
 *
 * @example
 * ```ts
 * async function countUsers(q: Queryable) { return (await q.one<{ n: number }>('select count(*)::int n from users')).n; }
 * ```
 */
export abstract class Queryable {
  /** Runs a statement. `query` is SQL text with `$1…` placeholders and `values`, or a `SqlQuery`. */
  abstract query<R = Record<string, unknown>>(
    query: string | QueryLike,
    values?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<QueryResult<R>>;

  /** Runs a statement and returns its rows. */
  rows<R = Record<string, unknown>>(
    query: string | QueryLike,
    values?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<R[]> {
    return this.query<R>(query, values, opts).then((r) => r.rows);
  }

  /** Runs a statement that must return exactly one row (`NoRowsError` / `TooManyRowsError`). */
  one<R = Record<string, unknown>>(
    query: string | QueryLike,
    values?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<R> {
    return this.query<R>(query, values, opts).then((r) => {
      if (r.rows.length === 0) throw new NoRowsError();
      if (r.rows.length > 1) throw new TooManyRowsError(r.rows.length, 'exactly one');
      return r.rows[0]!;
    });
  }

  /** Runs a statement that returns at most one row; `null` when none (`TooManyRowsError` if more). */
  maybeOne<R = Record<string, unknown>>(
    query: string | QueryLike,
    values?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<R | null> {
    return this.query<R>(query, values, opts).then((r) => {
      if (r.rows.length > 1) throw new TooManyRowsError(r.rows.length);
      return r.rows[0] ?? null;
    });
  }
}
