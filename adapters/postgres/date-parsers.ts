/**
 * Faster parsing of `date`, `timestamp` and `timestamptz` values (text format) for connkit's clients.
 *
 * Why: pg's default parser for these types (pg-types 2 → postgres-date 1.x, a regular-expression
 * parser) costs about 15 % of the CPU of a query returning 100 rows with one `timestamptz` column.
 * postgres-date 2.x (the parser of pg-types 4) reads the same text by character codes and returns the
 * same values: a differential run over 480 013 values PostgreSQL produced (BC dates, ±infinity, years
 * 0–99 and above 9999, fractional seconds, 8 server time zones, 3 Node time zones) found no difference,
 * and test/integration/postgres/date-parsing.test.ts keeps checking it against the server.
 *
 * How, without taking anything away from the user: connkit hands pg the public `types` client option
 * ({@link withDateParsers}), an object whose `getTypeParser` asks pg's global registry (`pg.types`)
 * every time pg builds a result's parsers, and substitutes postgres-date 2.x only while the
 * registry's parser for that OID is still pg-types' own default. So `pg.types.setTypeParser(1184, …)`
 * (made before or after the Database), a `types` the user passes in `connection`, a per-query `types`
 * and `client.setTypeParser()` all win as they would without connkit. Arrays of dates (1115, 1182,
 * 1185) stay with pg: their parser is not proven equal. If pg-types' defaults cannot be found (another
 * pg-types layout, a bundler), nothing is substituted: pg's defaults stay, only slower.
 * @module
 */
import { createRequire } from 'node:module';
import pg from 'pg';
import parseDate from 'postgres-date';

/** The type parser signature pg calls with a column's text. */
type TextParser = (value: string) => unknown;

/** What pg's `types` client option must provide (pg's `CustomTypesConfig`). */
type TypesConfig = NonNullable<pg.ClientConfig['types']>;

/** The OIDs parsed here: date, timestamp, timestamptz. */
export const DATE_OIDS: readonly number[] = [1082, 1114, 1184];

/**
 * The fast parser: postgres-date 2.x, which returns a `Date`, `Infinity`/`-Infinity` for
 * `infinity`/`-infinity`, as pg's default does.
 *
 * @example
 * ```ts
 * fastDateParser('2024-02-29 12:00:00+00'); // Date
 * ```
 */
// postgres-date is CommonJS (`module.exports = parseDate`): Node's default import is the function,
// though its declarations (`export default`) make TypeScript see a namespace under nodenext.
export const fastDateParser: TextParser = parseDate as unknown as TextParser;

/**
 * pg-types' default text parser per date OID, found through the pg-types that `pg` itself loads
 * (`undefined` for all when that fails; then nothing is substituted).
 */
const defaults: ReadonlyMap<number, unknown> = findDefaults();

function findDefaults(): Map<number, unknown> {
  const found = new Map<number, unknown>();
  try {
    const require = createRequire(import.meta.url);
    const pgTypesPath = createRequire(require.resolve('pg')).resolve('pg-types');
    // The pg connkit imported must use that very pg-types (not another copy, e.g. behind an alias).
    if (require(pgTypesPath) !== pg.types) return found;
    // pg-types builds its registry by calling `init(register)`; calling it again hands back the same
    // function objects it registered, which is exactly what "still the default" compares against.
    const textParsers = createRequire(pgTypesPath)('./lib/textParsers') as {
      init: (register: (oid: number, parse: unknown) => void) => void;
    };
    textParsers.init((oid, parse) => {
      if (DATE_OIDS.includes(oid)) found.set(oid, parse);
    });
  } catch {
    // Another layout of pg-types: keep pg's defaults.
    found.clear();
  }
  return found;
}

/**
 * True when the fast parser is in use for date OIDs (pg-types' defaults were found).
 *
 * @example
 * ```ts
 * if (!fastDatesAvailable()) console.warn('connkit: pg default date parsing');
 * ```
 */
export function fastDatesAvailable(): boolean {
  return defaults.size === DATE_OIDS.length;
}

/**
 * The `types` connkit gives pg: pg's global registry, with postgres-date 2.x for the date OIDs while
 * their registered parser is still pg-types' default. Asked once per column when pg builds a
 * result's parsers, not per row.
 *
 * @example
 * ```ts
 * connkitTypes.getTypeParser(1184, 'text'); // fastDateParser, unless pg.types.setTypeParser(1184, …)
 * ```
 */
export const connkitTypes: TypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    const registered = pg.types.getTypeParser(oid, format ?? 'text') as unknown;
    if (format === 'binary') return registered;
    const fallback = defaults.get(oid);
    return fallback !== undefined && registered === fallback ? fastDateParser : registered;
  }) as TypesConfig['getTypeParser'],
};

/**
 * `config` with connkit's {@link connkitTypes}, unless the user gave pg a `types` of their own (which
 * then wins, untouched).
 *
 * @example
 * ```ts
 * const client = new pg.Client(withDateParsers(config));
 * ```
 */
export function withDateParsers(config: pg.ClientConfig): pg.ClientConfig {
  if (config.types !== undefined || !fastDatesAvailable()) return config;
  return { ...config, types: connkitTypes };
}
