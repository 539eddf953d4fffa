/**
 * Reads the `(text | SqlQuery, values?)` arguments of every query method, and rejects bad input
 * synchronously, before anything reaches the server.
 * @module
 */
import { describeValue } from '../../src/internal/index.js';

/**
 * Anything with a string `text` and an array `values` — what the `sql` tag produces.
 *
 * @example
 * ```ts
 * const q: QueryLike = { text: 'select $1::int as n', values: [1] };
 * await db.one(q);
 * ```
 */
export interface QueryLike {
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * The protocol's limit: Bind carries the parameter count as an Int16.
 *
 * @example
 * ```ts
 * if (values.length > MAX_PARAMETERS) chunk(values);
 * ```
 */
export const MAX_PARAMETERS = 65_535;

/**
 * A validated query.
 *
 * @example
 * ```ts
 * const { text, values } = readQuery(sql`select ${1}`, undefined);
 * ```
 */
export interface QueryInput {
  text: string;
  values: unknown[] | undefined;
}

/**
 * Normalises and validates the arguments of `query()`/`rows()`/`one()`/`maybeOne()`.
 * Throws `TypeError` for a non-string text, non-array values, an `undefined` value (a bug, not a
 * NULL — pass `null`), and `RangeError` for more than 65 535 parameters.
 *
 * @example
 * ```ts
 * readQuery('select $1', [1]); // { text: 'select $1', values: [1] }
 * ```
 */
export function readQuery(query: string | QueryLike, values: readonly unknown[] | undefined): QueryInput {
  let text: unknown;
  let vals: unknown;
  if (typeof query === 'string') {
    text = query;
    vals = values;
  } else if (typeof query === 'object' && query !== null && typeof query.text === 'string') {
    if (values !== undefined) {
      throw new TypeError('values must not be passed with a SqlQuery object: it carries its own values');
    }
    text = query.text;
    vals = query.values;
  } else {
    throw new TypeError(`query must be a string or a SqlQuery { text, values }, got ${describeValue(query)}`);
  }
  if (vals === undefined || vals === null) return { text: text as string, values: undefined };
  if (!Array.isArray(vals)) {
    throw new TypeError(`query values must be an array, got ${describeValue(vals)}`);
  }
  if (vals.length > MAX_PARAMETERS) {
    throw new RangeError(`query has ${vals.length} parameters; PostgreSQL accepts at most ${MAX_PARAMETERS}`);
  }
  for (let i = 0; i < vals.length; i++) {
    if (vals[i] === undefined) {
      throw new TypeError(`query value $${i + 1} is undefined (use null for SQL NULL)`);
    }
  }
  return { text: text as string, values: vals.length === 0 ? undefined : (vals as unknown[]) };
}
