/**
 * {@link operationName}: the `db.operation.name` of a statement — its first keyword, upper-cased
 * (`SELECT`, `INSERT`, `WITH` …), the way `@opentelemetry/instrumentation-pg` names its spans. Never
 * the text itself: a metric attribute must have few values, and the text may hold literals.
 * @module
 */

const cache = new Map<string, string | undefined>();
/** Texts remembered (an application has a bounded set; a text built with literals each time does not). */
const CACHE_SIZE = 512;
/** Whitespace, `--` and `/* *\/` comments and opening parentheses before the first keyword. */
const LEADING = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*/;
const KEYWORD = /^[A-Za-z]{1,32}(?![A-Za-z0-9_$])/;

/**
 * The statement's first keyword, upper-cased; `undefined` when the text does not start with one
 * (empty text, a value, a quoted name). Remembered for the last 512 texts.
 *
 * @example
 * ```ts
 * operationName('/* report *\/ select * from t where id = $1'); // 'SELECT'
 * operationName('(select 1) union (select 2)'); // 'SELECT'
 * ```
 */
export function operationName(text: string): string | undefined {
  if (cache.has(text)) return cache.get(text);
  const rest = text.slice(LEADING.exec(text)![0].length);
  const name = KEYWORD.exec(rest)?.[0].toUpperCase();
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(text, name);
  return name;
}
