/**
 * Runs only in the `pg-lowest` project (vitest.config.ts): proves that the project really exercises
 * the lowest supported pg — the adapter, pg-cursor and the test helpers all load it, and the newest
 * pg is never loaded — so the PostgreSQL integration tests beside it are a test of that version.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Database } from '../../adapters/postgres/index.js';
import { uniqueName } from '../support/names.js';
import {
  PG_CURSOR_LOWEST_ENTRY,
  PG_DIR,
  PG_LOWEST_DIR,
  lowestSupportedPg,
  readPackageJson,
} from '../support/pg-lowest.js';
import { databaseUrl } from '../support/services.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('the pg-lowest project', () => {
  it('installs the floor of peerDependencies.pg as the pg-lowest alias', () => {
    const floor = lowestSupportedPg();
    expect(readPackageJson(root).devDependencies?.['pg-lowest']).toBe(`npm:pg@${floor}`);
    expect(readPackageJson(PG_LOWEST_DIR).version).toBe(floor);
    expect(readPackageJson(PG_DIR).version).not.toBe(floor);
  });

  it('runs Database queries, pipelined queries, cursors and COPY on that pg and never loads the newest', async () => {
    await using db = new Database({
      url: databaseUrl(),
      applicationName: uniqueName('lowest'),
      pipeline: { connections: 1 },
    });
    const table = uniqueName('lowest_copy');
    const pipelined = await Promise.all(
      [1, 2, 3].map((n) => db.one<{ n: number }>('select $1::int as n', [n])),
    );
    expect(pipelined.map((r) => r.n)).toEqual([1, 2, 3]);
    expect(db.stats().pipeline.connections).toBeGreaterThan(0);
    const streamed: number[] = [];
    for await (const row of db.stream<{ n: number }>('select generate_series(1, 5) as n', [], {
      batchSize: 2,
    })) {
      streamed.push(row.n);
    }
    expect(streamed).toEqual([1, 2, 3, 4, 5]);
    await db.query(`create table "${table}" (n int)`);
    try {
      expect(await db.copyFrom(`copy "${table}" from stdin`, ['1\n', '2\n'])).toBe(2);
    } finally {
      await db.query(`drop table "${table}"`);
    }

    // Module caches hold real paths (node_modules itself may be a link).
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    const [lowest, newest] = [fs.realpathSync(PG_LOWEST_DIR), fs.realpathSync(PG_DIR)];
    const inside = (dir: string) => loaded.filter((file) => file.startsWith(dir + path.sep));
    expect(inside(lowest)).toContain(path.join(lowest, 'lib', 'client.js'));
    // pg-cursor's own require('pg/lib/result.js') lands in the lowest pg too.
    expect(loaded).toContain(fs.realpathSync(PG_CURSOR_LOWEST_ENTRY));
    expect(inside(lowest)).toContain(path.join(lowest, 'lib', 'result.js'));
    expect(inside(newest)).toEqual([]);
  });
});
