/**
 * connkit parses `date`, `timestamp` and `timestamptz` with postgres-date 2.x (date-parsers.ts): every
 * value PostgreSQL produces must come out exactly as pg's own default parser makes it, and a parser
 * the user registers with pg (globally, or as the `types` client option) must still win.
 */
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Database } from '../../../adapters/postgres/index.js';
import { connkitTypes, fastDateParser } from '../../../adapters/postgres/date-parsers.js';
import { uniqueName } from '../../support/names.js';
import { databaseUrl } from '../../support/services.js';

const TIMESTAMPTZ = 1184;

/** Server time zones: whole, half and three-quarter hour offsets, and local mean times with seconds. */
const ZONES = [
  'UTC',
  'America/St_Johns',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'Europe/Amsterdam',
  'Africa/Monrovia',
];

/**
 * Deterministic values from 4713 BC to year 290 000 (step ~246 years), around 1 BC/AD 1 and years
 * below 100, 1850–2100 (local mean time offsets with seconds), fractional seconds of every length,
 * each as timestamptz, timestamp and date; plus ±infinity and null.
 */
const VALUES_SQL = `
  with t(v) as (
    select timestamp '4713-01-01 00:00:00 BC' + g * interval '90000 days 7 hours 13 minutes 17.123457 seconds' from generate_series(0, 1199) g
    union all select timestamp '0100-01-01 00:00:00 BC' + g * interval '60 days 5 hours 3 minutes 2.000001 seconds' from generate_series(0, 1199) g
    union all select timestamp '1850-01-01 00:00:00' + g * interval '76 days 11 hours 59 minutes 59.99999 seconds' from generate_series(0, 1199) g
    union all select timestamp '1969-12-31 23:59:58' + g * interval '1.0371 seconds' from generate_series(0, 499) g
    union all select timestamp '9999-12-31 23:00:00' + g * interval '17 minutes 0.5 seconds' from generate_series(0, 99) g
    union all values (timestamp 'infinity'), (timestamp '-infinity'), (null)
  )
  select v::timestamptz as tz, v as ts, v::date as d from t`;

type Row = { tz: unknown; ts: unknown; d: unknown };

/** Equal as pg's default parser would make them: the same instant, or the same null/±Infinity/string. */
const same = (a: unknown, b: unknown): boolean =>
  a instanceof Date && b instanceof Date ? Object.is(a.getTime(), b.getTime()) : Object.is(a, b);

async function rawRows(zone: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl(), options: `-c TimeZone=${zone}` });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<Row>(VALUES_SQL)).rows;
  } finally {
    await client.end();
  }
}

function connkit(pipeline: boolean, connection: pg.ClientConfig = {}): Database {
  const db = new Database({
    url: databaseUrl(),
    applicationName: uniqueName('pgdate'),
    pool: { max: 1 },
    pipeline: pipeline ? { connections: 1 } : false,
    connection,
  });
  opened.push(db);
  return db;
}

const opened: Database[] = [];
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
});

describe('date/timestamp parsing', () => {
  it.each([true, false])(
    'gives exactly what pg gives for every value the server makes (pipelined: %s)',
    async (pipeline) => {
      let dates = 0;
      for (const zone of ZONES) {
        const db = connkit(pipeline, { options: `-c TimeZone=${zone}` });
        const [ours, theirs] = await Promise.all([db.query<Row>(VALUES_SQL), rawRows(zone)]);
        expect(ours.rows).toHaveLength(theirs.length);
        const bad: string[] = [];
        ours.rows.forEach((row, i) => {
          const raw = theirs[i]!;
          for (const col of ['tz', 'ts', 'd'] as const) {
            if (row[col] instanceof Date) dates++;
            if (!same(row[col], raw[col]))
              bad.push(`${zone} ${col}: ${String(row[col])} ≠ ${String(raw[col])}`);
          }
        });
        expect(bad.slice(0, 10)).toEqual([]);
        expect(ours.rows.at(-3)!.tz).toBe(Infinity);
        expect(ours.rows.at(-2)!.ts).toBe(-Infinity);
        expect(ours.rows.at(-1)!.d).toBeNull();
      }
      expect(dates).toBeGreaterThan(ZONES.length * 4100 * 3 - 1);
    },
    20_000,
  );

  it.each([true, false])('uses the fast parser (pipelined: %s)', async (pipeline) => {
    // A regression that drops the hook in connect.ts would still pass the differential test above.
    const asked = vi.spyOn(connkitTypes, 'getTypeParser');
    try {
      const db = connkit(pipeline);
      await db.query(`select now() as tz`);
      const answers = asked.mock.calls.flatMap((call, i) =>
        Number(call[0]) === TIMESTAMPTZ ? [asked.mock.results[i]!.value as unknown] : [],
      );
      expect(answers).toEqual([fastDateParser]);
      if (!pipeline) {
        await db.withClient(async (client) => {
          expect(client.getTypeParser(TIMESTAMPTZ, 'text')).toBe(fastDateParser);
        });
      }
    } finally {
      asked.mockRestore();
    }
  });

  describe('a parser the user registers wins', () => {
    const original = pg.types.getTypeParser(TIMESTAMPTZ, 'text');
    afterEach(() => pg.types.setTypeParser(TIMESTAMPTZ, 'text', original));
    const custom = (text: string) => `custom:${text}`;
    const SQL = `select timestamptz '2024-02-29 12:34:56.789+00' as tz, timestamp '2024-02-29 12:34:56' as ts`;

    it.each([true, false])(
      'pg.types.setTypeParser() made after the Database opened (pipelined: %s)',
      async (pipeline) => {
        const db = connkit(pipeline, { options: '-c TimeZone=UTC' });
        const before = await db.query<{ tz: unknown }>(SQL);
        expect(before.rows[0]!.tz).toEqual(new Date('2024-02-29T12:34:56.789Z'));
        pg.types.setTypeParser(TIMESTAMPTZ, 'text', custom);
        const after = await db.query<{ tz: unknown; ts: unknown }>(SQL);
        expect(after.rows[0]!.tz).toBe('custom:2024-02-29 12:34:56.789+00');
        expect(after.rows[0]!.ts).toBeInstanceOf(Date); // the other OIDs keep the fast parser
      },
    );

    it.each([true, false])(
      'pg.types.setTypeParser() made before the Database (pipelined: %s)',
      async (pipeline) => {
        pg.types.setTypeParser(TIMESTAMPTZ, 'text', custom);
        const db = connkit(pipeline, { options: '-c TimeZone=UTC' });
        const { rows } = await db.query<{ tz: unknown }>(SQL);
        expect(rows[0]!.tz).toBe('custom:2024-02-29 12:34:56.789+00');
      },
    );

    it.each([true, false])('the `types` client option in `connection` (pipelined: %s)', async (pipeline) => {
      const types = {
        getTypeParser: (oid: number, format?: string): unknown =>
          oid === TIMESTAMPTZ ? custom : (pg.types.getTypeParser(oid, format as 'text') as unknown),
      } as pg.CustomTypesConfig;
      const db = connkit(pipeline, { options: '-c TimeZone=UTC', types });
      const { rows } = await db.query<{ tz: unknown }>(SQL);
      expect(rows[0]!.tz).toBe('custom:2024-02-29 12:34:56.789+00');
    });
  });
});
