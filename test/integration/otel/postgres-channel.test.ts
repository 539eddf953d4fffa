/**
 * `connkit:postgres:query` on the real server: one context per statement — pipelined, pooled, in a
 * transaction, on a read replica, failing — published from the call to the result, with the
 * parameterised text and the number of values, never a value.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { recordChannel, type ChannelEvent } from '../../support/channels.js';
import { Database, DatabaseError } from '../../../adapters/postgres/index.js';
import type { PostgresQueryContext } from '../../../src/internal/channels.js';
import { rejectionOf } from '../../support/async.js';
import { uniqueName } from '../../support/names.js';
import { databaseUrl } from '../../support/services.js';

type Event = ChannelEvent<PostgresQueryContext>;

const channel = diagnosticsChannel.tracingChannel<unknown, PostgresQueryContext>('connkit:postgres:query');
const unsubscribers: (() => void)[] = [];
/** Every event of the channel, with the context object itself (the same one in each event of an operation). */
function record(): Event[] {
  const { events, stop } = recordChannel<PostgresQueryContext>('connkit:postgres:query', { copy: false });
  unsubscribers.push(stop);
  return events;
}
afterEach(() => {
  for (const off of unsubscribers.splice(0)) off();
});

const url = new URL(databaseUrl());
const DB = url.pathname.slice(1);
const HOST = url.hostname;
const PORT = Number(url.port || 5432);

/** The operations seen, in the order they started, with the events each got. */
function operations(events: Event[]): { ctx: PostgresQueryContext; events: string[] }[] {
  const ops = new Map<PostgresQueryContext, string[]>();
  for (const [name, ctx] of events) {
    if (!ops.has(ctx)) ops.set(ctx, []);
    ops.get(ctx)!.push(name);
  }
  return [...ops].map(([ctx, names]) => ({ ctx, events: names }));
}

describe('connkit:postgres:query', () => {
  it('publishes pipelined, pooled, transaction and failing statements, and no bound value anywhere', async () => {
    const secret = `s3cret-${uniqueName('v')}`;
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('ch') });
    await db.query('select 1'); // connections up: what follows is routed as it is in steady state
    const events = record();

    const piped = await db.one<{ s: string }>('select $1::text as s', [secret]);
    expect(piped.s).toBe(secret);
    // set_config changes session state: a dedicated pooled connection, never the pipeline.
    await db.query("select set_config('connkit.probe', $1, false)", [secret]);
    await db.transaction(async (tx) => {
      await tx.query('select $1::text as s, $2::int as n', [secret, 7]);
    });
    const failed = await rejectionOf(db.query('select 1 / 0 where $1::text is not null', [secret]));
    expect(failed).toBeInstanceOf(DatabaseError);

    const ops = operations(events);
    expect(ops.map((o) => [o.ctx.text, o.ctx.pipelined, o.ctx.transaction])).toEqual([
      ['select $1::text as s', true, false],
      ["select set_config('connkit.probe', $1, false)", false, false],
      ['begin', false, true],
      ['select $1::text as s, $2::int as n', false, true],
      ['commit', false, true],
      ['select 1 / 0 where $1::text is not null', true, false],
    ]);
    for (const { ctx, events: names } of ops) {
      expect(ctx).toMatchObject({ database: DB, serverAddress: HOST, serverPort: PORT });
      if (ctx.error === undefined) expect(names).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
      else expect(names).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    }
    expect(ops.map((o) => o.ctx.valueCount)).toEqual([1, 1, 0, 2, 0, 1]);
    expect(ops[0]!.ctx.result).toEqual({ command: 'SELECT', rowCount: 1 });
    expect(ops[2]!.ctx.result).toEqual({ command: 'BEGIN', rowCount: null });
    expect(ops[5]!.ctx.error).toBe(failed);
    expect((ops[5]!.ctx.error as DatabaseError).code).toBe('22012');
    expect(ops[5]!.ctx.result).toBeUndefined();

    const dump = JSON.stringify(ops.map((o) => o.ctx));
    expect(dump).toContain('select $1::text as s'); // the dump is the contexts, not an empty shell
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain('s3cret');
  });

  it('publishes a readOnly statement with its replica, and a statement that timed out with its error', async () => {
    await using db = new Database({
      url: databaseUrl(),
      replicas: [databaseUrl()],
      applicationName: uniqueName('ch_rep'),
    });
    const events = record();
    await db.query('select 2 as n', undefined, { readOnly: true });
    const err = await rejectionOf(db.query('select pg_sleep(30)', undefined, { timeout: 200 }));
    const ops = operations(events);
    expect(ops.map((o) => o.ctx.text)).toEqual(['select 2 as n', 'select pg_sleep(30)']);
    expect(ops[0]!.ctx).toMatchObject({ serverAddress: HOST, serverPort: PORT, database: DB });
    expect(ops[0]!.ctx.result).toEqual({ command: 'SELECT', rowCount: 1 });
    expect(ops[1]!.ctx.error).toBe(err);
    expect((err as { code?: string }).code).toBe('TIMEOUT');
  });

  it('publishes nothing and makes no context once nobody subscribes', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('ch_off') });
    const events = record();
    await db.query('select 1');
    expect(events.length).toBeGreaterThan(0);
    for (const off of unsubscribers.splice(0)) off();
    expect(channel.hasSubscribers).toBe(false);
    const before = events.length;
    await db.query('select 2');
    await db.transaction((tx) => tx.query('select 3'));
    expect(events.length).toBe(before);
  });
});
