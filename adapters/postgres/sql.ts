/**
 * The `sql` tagged template: builds parameterised queries whose values never enter the SQL text.
 * @module
 */
import { describeValue } from '../../src/internal/index.js';

let appendFragment: (query: SqlQuery, builder: Builder) => void;

/**
 * A parameterised query: `text` with `$1…$n` placeholders and the matching `values`.
 * Built by the {@link sql} tag; can be embedded in another `sql` template, where its
 * placeholders are renumbered.
 *
 * @example
 * ```ts
 * const q = sql`select * from users where id = ${42}`;
 * q.text;   // 'select * from users where id = $1'
 * q.values; // [42]
 * ```
 */
export class SqlQuery {
  /** SQL text pieces around the values: always `values.length + 1` of them. */
  readonly #strings: readonly string[];
  readonly #values: unknown[];
  #text: string | undefined;

  /** @internal Use the {@link sql} tag, `sql.id` or `sql.join` to build queries. */
  constructor(strings: readonly string[], values: unknown[]) {
    this.#strings = strings;
    this.#values = values;
  }

  /** The SQL text with `$1…$n` placeholders. */
  get text(): string {
    if (this.#text === undefined) {
      const strings = this.#strings;
      let text = strings[0] ?? '';
      for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
      this.#text = text;
    }
    return this.#text;
  }

  /** The parameter values, in placeholder order. */
  get values(): unknown[] {
    return this.#values;
  }

  static {
    // Lets the builder read a fragment's pieces without making them public API.
    appendFragment = (query, builder) => {
      const strings = query.#strings;
      builder.appendText(strings[0] ?? '');
      for (let i = 1; i < strings.length; i++) {
        builder.pushValue(query.#values[i - 1]);
        builder.appendText(strings[i] ?? '');
      }
    };
  }

  /** For logs and debuggers: the text only (values may be secret). */
  toString(): string {
    return this.text;
  }
}

/** Collects text pieces and values while fragments are spliced together. */
class Builder {
  readonly strings: string[] = [''];
  readonly values: unknown[] = [];

  appendText(text: string): void {
    const last = this.strings.length - 1;
    this.strings[last] += text;
  }

  pushValue(value: unknown): void {
    this.values.push(value);
    this.strings.push('');
  }

  append(part: unknown, position: string): void {
    if (part instanceof SqlQuery) appendFragment(part, this);
    else this.pushValue(checkValue(part, position));
  }

  build(): SqlQuery {
    return new SqlQuery(this.strings, this.values);
  }
}

function checkValue(value: unknown, position: string): unknown {
  // `undefined` is almost always a bug (a missing property); SQL NULL must be asked for with null.
  if (value === undefined) {
    throw new TypeError(`sql: ${position} is undefined; pass null for SQL NULL`);
  }
  return value;
}

function isTemplateStrings(value: unknown): value is TemplateStringsArray {
  return Array.isArray(value) && Array.isArray((value as { raw?: unknown }).raw);
}

function tag(strings: TemplateStringsArray, ...values: unknown[]): SqlQuery {
  if (!isTemplateStrings(strings)) {
    throw new TypeError(`sql must be used as a template tag (sql\`…\`), got ${describeValue(strings)}`);
  }
  let nested = false;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value instanceof SqlQuery) nested = true;
    else checkValue(value, `value #${i + 1}`);
  }
  // Fast path: no fragments to splice, the template's own strings are the pieces.
  if (!nested) return new SqlQuery(strings, values);
  const builder = new Builder();
  builder.appendText(strings[0] ?? '');
  for (let i = 0; i < values.length; i++) {
    builder.append(values[i], `value #${i + 1}`);
    builder.appendText(strings[i + 1] ?? '');
  }
  return builder.build();
}

function quoteIdentifier(part: unknown, whole: unknown): string {
  if (typeof part !== 'string') {
    throw new TypeError(`sql.id() expects a string or an array of strings, got ${describeValue(whole)}`);
  }
  if (part.length === 0) throw new RangeError(`sql.id() got an empty identifier in ${describeValue(whole)}`);
  if (part.includes('\0'))
    throw new RangeError(`sql.id() got an identifier with a NUL character: ${describeValue(whole)}`);
  return `"${part.replaceAll('"', '""')}"`;
}

/**
 * A quoted identifier (table, column, schema, channel…) as an embeddable fragment. A string is
 * split on dots (`'app.users'` → `"app"."users"`); pass an array to keep dots inside a name
 * (`['my.schema', 'users']` → `"my.schema"."users"`). Double quotes are doubled, so any string is a
 * harmless name; empty names and NUL characters throw `RangeError`. Quoted names are case-sensitive.
 *
 * @example
 * ```ts
 * await db.query(sql`select * from ${sql.id('app.users')} where id = ${id}`);
 * // text: select * from "app"."users" where id = $1
 * ```
 */
function id(name: string | readonly string[]): SqlQuery {
  const parts = typeof name === 'string' ? name.split('.') : name;
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new TypeError(
      `sql.id() expects a string or a non-empty array of strings, got ${describeValue(name)}`,
    );
  }
  const text = parts.map((p: unknown) => quoteIdentifier(p, name)).join('.');
  return new SqlQuery([text], []);
}

/**
 * Joins fragments and values with a separator fragment (default `, `). A `SqlQuery` element is
 * spliced in; any other element becomes a parameter.
 *
 * @example
 * ```ts
 * const ids = [1, 2, 3];
 * sql`select * from t where id in (${sql.join(ids)})`.text; // 'select * from t where id in ($1, $2, $3)'
 * sql`select ${sql.join([sql.id('a'), sql.id('b')])} from t`.text; // 'select "a", "b" from t'
 * ```
 */
function join(parts: Iterable<unknown>, separator: SqlQuery = COMMA): SqlQuery {
  if (parts === null || typeof (parts as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`sql.join() expects an iterable of parts, got ${describeValue(parts)}`);
  }
  if (!(separator instanceof SqlQuery)) {
    throw new TypeError(`sql.join() expects an sql\`…\` separator, got ${describeValue(separator)}`);
  }
  const builder = new Builder();
  let i = 0;
  for (const part of parts) {
    if (i > 0) appendFragment(separator, builder);
    builder.append(part, `sql.join() part #${i + 1}`);
    i++;
  }
  return builder.build();
}

const COMMA = new SqlQuery([', '], []);

/**
 * The `sql` tag with its helpers.
 *
 * @example
 * ```ts
 * const q = sql`select * from ${sql.id('t')} where id in (${sql.join([1, 2])})`;
 * ```
 */
export interface Sql {
  (strings: TemplateStringsArray, ...values: unknown[]): SqlQuery;
  /** A quoted identifier fragment; see {@link id}. */
  id(name: string | readonly string[]): SqlQuery;
  /** Fragments/values joined by a separator; see {@link join}. */
  join(parts: Iterable<unknown>, separator?: SqlQuery): SqlQuery;
}

/**
 * Tagged template for parameterised SQL. Every `${value}` becomes a `$n` placeholder with the value
 * in `values` — values never enter the text, so there is no injection. Embedded `SqlQuery`
 * fragments (from `sql`, `sql.id`, `sql.join`) are spliced in and their placeholders renumbered.
 * `undefined` values throw `TypeError` (use `null` for SQL NULL). There is deliberately no raw
 * escape hatch: compose fragments instead.
 *
 * @example
 * ```ts
 * const where = sql`status = ${'open'} and owner = ${userId}`;
 * const q = sql`select * from ${sql.id('orders')} where ${where} limit ${10}`;
 * // q.text   → 'select * from "orders" where status = $1 and owner = $2 limit $3'
 * // q.values → ['open', userId, 10]
 * await db.rows(q);
 * ```
 */
export const sql: Sql = Object.assign(tag, { id, join });

/**
 * True for a {@link SqlQuery} built by `sql`.
 *
 * @example
 * ```ts
 * isSqlQuery(sql`select 1`); // true
 * isSqlQuery('select 1');    // false
 * ```
 */
export function isSqlQuery(value: unknown): value is SqlQuery {
  return value instanceof SqlQuery;
}
