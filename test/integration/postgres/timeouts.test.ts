/**
 * Every duration DESIGN §2 allows reaches the postgres adapter intact: values above 2^31-1 ms (where
 * a bare `setTimeout` fires at once) and `Infinity` wait as long as they say, and `timeout: 0` means
 * "only if it can be had at once" — which a statement never can, so it is refused before anything
 * is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { Database, sql } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, createTestSchema } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';

let schema: { name: string; drop(): Promise<void> };
beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
});
afterAll(async () => {
  await schema?.drop();
});

/** ~25.8 days (> 2^31-1 ms) and forever. */
const LONG = [3e9, Infinity];
const SLOW = 'select pg_sleep(0.2) as slept';

async function* lines(n: number): AsyncGenerator<string> {
  for (let i = 1; i <= n; i++) yield `${i}\tn${i}\n`;
}

async function freshTable(db: Database): Promise<ReturnType<typeof sql.id>> {
  const t = sql.id([schema.name, uniqueName('copy')]);
  await db.query(sql`create table ${t} (id int, name text)`);
  return t;
}

describe.each(LONG)('Database calls with timeout: %s', (timeout) => {
  it('query(), rows(), one(), maybeOne() and ping() wait for a slow statement', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('long') });
    expect((await db.query(SLOW, [], { timeout })).rowCount).toBe(1);
    expect(await db.rows(SLOW, [], { timeout })).toHaveLength(1);
    expect(await db.one(SLOW, [], { timeout })).toEqual({ slept: '' });
    expect(await db.maybeOne(SLOW, [], { timeout })).toEqual({ slept: '' });
    await db.ping({ timeout });
    expect(db.stats().cancellations).toBe(0);
  });

  it('transaction() and tx.query() wait for a slow statement', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('long_tx') });
    const n = await db.transaction(
      async (tx) => {
        await tx.query(SLOW, [], { timeout });
        return (await tx.one<{ n: number }>('select 7 as n', [], { timeout })).n;
      },
      { timeout },
    );
    expect(n).toBe(7);
    expect(db.stats().commits).toBe(1);
  });

  it('withClient() lends the client for a slow statement without aborting its signal', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('long_wc') });
    const aborted = await db.withClient(
      async (client, signal) => {
        await client.query(SLOW);
        return signal.aborted;
      },
      { timeout },
    );
    expect(aborted).toBe(false);
  });

  it('stream(), copyFrom() and copyTo() run to their end', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('long_copy') });
    const rows: unknown[] = [];
    for await (const row of db.stream(`${SLOW} from generate_series(1, 3)`, [], { timeout })) rows.push(row);
    expect(rows).toHaveLength(3);
    const t = await freshTable(db);
    expect(await db.copyFrom(sql`copy ${t} from stdin`, lines(1000), { timeout })).toBe(1000);
    const chunks: Uint8Array[] = [];
    for await (const chunk of db.copyTo(sql`copy (select *, pg_sleep(0.0002) from ${t}) to stdout`, {
      timeout,
    }))
      chunks.push(chunk);
    expect(Buffer.concat(chunks).toString().trimEnd().split('\n')).toHaveLength(1000);
  });
});

describe('Database options with durations above 2^31-1 ms', () => {
  it('queryTimeout and connectTimeout of 3e9 ms let connections open and statements finish', async () => {
    await using db = new Database({
      url: databaseUrl(),
      applicationName: uniqueName('long_opts'),
      queryTimeout: 3e9,
      connectTimeout: 3e9,
    });
    expect(await db.one(SLOW)).toEqual({ slept: '' });
    await db.transaction((tx) => tx.query(SLOW));
  });

  it('a pipelined Database with queryTimeout 3e9 keeps its connections and answers', async () => {
    await using db = new Database({
      url: databaseUrl(),
      applicationName: uniqueName('long_pipe'),
      queryTimeout: 3e9,
      connectTimeout: 3e9,
      statementTimeout: 3e9,
      pipeline: { connections: 1 },
    });
    const results = await Promise.all([db.one(SLOW), db.one('select 1 as n'), db.one(SLOW)]);
    expect(results).toEqual([{ slept: '' }, { n: 1 }, { slept: '' }]);
    expect(db.stats().pipeline.connections).toBe(1);
  });

  it('listen() with a heartbeat of 3e9 ms keeps its connection', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('long_listen') });
    const errors: unknown[] = [];
    const channel = uniqueName('ch');
    await using sub = await db.listen(channel, { heartbeat: 3e9, onError: (e) => errors.push(e) });
    // A heartbeat that fired at once would ping, time out at once and cut the connection.
    await new Promise((r) => setTimeout(r, 300));
    await db.notify(channel, 'still here');
    expect((await sub.next()).value?.payload).toBe('still here');
    expect(errors).toEqual([]);
    expect(sub.reconnects).toBe(0);
  });
});

describe('timeout: 0 (only if it can be had at once)', () => {
  it('every statement-running call rejects with TimeoutError without connecting or sending anything', async () => {
    const app = uniqueName('zero');
    await using db = new Database({ url: databaseUrl(), applicationName: app });
    let ran = false;
    let read = false;
    async function* source(): AsyncGenerator<string> {
      read = true;
      yield '1\ta\n';
    }
    const calls: [string, () => Promise<unknown>][] = [
      ['query', () => db.query('select 1', [], { timeout: 0 })],
      ['rows', () => db.rows('select 1', [], { timeout: 0 })],
      ['one', () => db.one('select 1', [], { timeout: 0 })],
      ['maybeOne', () => db.maybeOne('select 1', [], { timeout: 0 })],
      ['ping', () => db.ping({ timeout: 0 })],
      ['transaction', () => db.transaction(async () => (ran = true), { timeout: 0 })],
      ['withClient', () => db.withClient(async () => (ran = true), { timeout: 0 })],
      ['copyFrom', () => db.copyFrom('copy t from stdin', source(), { timeout: 0 })],
      ['stream', () => db.stream('select 1', [], { timeout: 0 })[Symbol.asyncIterator]().next()],
      ['copyTo', () => db.copyTo('copy t to stdout', { timeout: 0 })[Symbol.asyncIterator]().next()],
    ];
    // Many times: a refusal decided by a race against a timer would let some through.
    for (let round = 0; round < 20; round++) {
      for (const [name, call] of calls) {
        await expect(call(), name).rejects.toBeInstanceOf(TimeoutError);
      }
    }
    expect(ran).toBe(false);
    expect(read).toBe(false);
    expect(db.stats().pool.created).toBe(0);
    expect(db.stats().queries).toBe(0);
    expect(await backendsOf(databaseUrl(), app)).toEqual([]);
  });

  it('a pipelined Database refuses timeout: 0 the same way', async () => {
    await using db = new Database({
      url: databaseUrl(),
      applicationName: uniqueName('zero_pipe'),
      pipeline: { connections: 1 },
    });
    await db.query('select 1'); // a warm pipelined connection is still not "at once"
    for (let i = 0; i < 20; i++) {
      await expect(db.query('select 1', [], { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    }
    expect(db.stats().pool.created).toBe(0);
  });

  it('tx.query() with timeout 0 is refused without sending, and the transaction goes on', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('zero_tx') });
    const marker = uniqueName('marker');
    const n = await db.transaction(async (tx) => {
      await expect(tx.query(`select '${marker}'`, [], { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      const { query } = await tx.one<{ query: string }>(
        'select query from pg_stat_activity where pid = pg_backend_pid()',
      );
      expect(query).not.toContain(marker);
      return (await tx.one<{ n: number }>('select 3 as n')).n;
    });
    expect(n).toBe(3);
    expect(db.stats().commits).toBe(1);
  });
});
