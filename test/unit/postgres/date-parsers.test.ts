/**
 * date-parsers.ts: connkit's `types` hands pg postgres-date 2.x for date/timestamp/timestamptz while
 * pg's registry still holds pg-types' default, and whatever the user registered otherwise.
 */
import pg from 'pg';
import parseDateV2 from 'postgres-date';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connkitTypes,
  DATE_OIDS,
  fastDateParser,
  fastDatesAvailable,
  withDateParsers,
} from '../../../adapters/postgres/date-parsers.js';

const originals = new Map(DATE_OIDS.map((oid) => [oid, pg.types.getTypeParser(oid, 'text')]));
afterEach(() => {
  for (const [oid, parse] of originals) pg.types.setTypeParser(oid, 'text', parse);
});

describe('date parsers', () => {
  it('finds pg-types’ defaults, so the fast parser is on', () => {
    expect(fastDatesAvailable()).toBe(true);
    expect(fastDateParser).toBe(parseDateV2);
  });

  it.each(DATE_OIDS)('gives postgres-date 2.x for OID %i while pg’s default is registered', (oid) => {
    expect(connkitTypes.getTypeParser(oid, 'text')).toBe(fastDateParser);
    expect(connkitTypes.getTypeParser(oid)).toBe(fastDateParser);
    // …and that is not what pg itself would use: the hook really replaces something.
    expect(pg.types.getTypeParser(oid, 'text')).not.toBe(fastDateParser);
  });

  it('a client made from withDateParsers() uses it', () => {
    const client = new pg.Client(withDateParsers({}));
    for (const oid of DATE_OIDS) expect(client.getTypeParser(oid, 'text')).toBe(fastDateParser);
  });

  it('gives the user’s parser once registered, and the fast one again once the default is back', () => {
    const custom = (text: string) => text;
    pg.types.setTypeParser(1184, 'text', custom);
    expect(connkitTypes.getTypeParser(1184, 'text')).toBe(custom);
    expect(connkitTypes.getTypeParser(1114, 'text')).toBe(fastDateParser);
    pg.types.setTypeParser(1184, 'text', originals.get(1184));
    expect(connkitTypes.getTypeParser(1184, 'text')).toBe(fastDateParser);
  });

  it('leaves other OIDs, date arrays and the binary format to pg', () => {
    // Widened: pg's TypeId enum lacks some array OIDs (1185).
    type Get = (oid: number, format: 'text' | 'binary') => unknown;
    const viaConnkit = connkitTypes.getTypeParser as Get;
    const viaPg = pg.types.getTypeParser as Get;
    for (const [oid, format] of [
      [23, 'text'],
      [1185, 'text'],
      [1115, 'text'],
      [1182, 'text'],
      [1184, 'binary'],
    ] as const) {
      expect(viaConnkit(oid, format)).toBe(viaPg(oid, format));
    }
  });

  it('keeps a `types` the user passed to pg', () => {
    const types = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;
    const config = { host: 'h', types };
    expect(withDateParsers(config)).toBe(config);
    expect(withDateParsers({ host: 'h' })).toEqual({ host: 'h', types: connkitTypes });
  });
});
