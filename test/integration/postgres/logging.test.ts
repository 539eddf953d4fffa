/**
 * `DatabaseLogger.debug`/`info`: what someone debugging a reconnect or a slow pool sees — connections
 * opened, closed and replaced, cancels sent, LISTEN reconnected — in pino's order (details, message),
 * never with a password.
 */
import { describe, expect, it } from 'vitest';
import { Database, type DatabaseLogger } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, terminateBackends } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { rejectionOf, until } from '../../support/async.js';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  details: Record<string, unknown>;
}

function recorder(): DatabaseLogger & { lines: Line[]; messages(level: Line['level']): string[] } {
  const lines: Line[] = [];
  const log =
    (level: Line['level']) =>
    (details: Record<string, unknown>, message: string): void =>
      void lines.push({ level, details, message });
  return {
    lines,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    messages: (level) => lines.filter((l) => l.level === level).map((l) => l.message),
  };
}

describe('Database logger', () => {
  it('logs connections opened and closed at debug, with the backend pid and no password', async () => {
    const logger = recorder();
    const url = new URL(databaseUrl());
    url.password = 'pw_never_logged';
    const db = new Database({ url: url.toString(), applicationName: uniqueName('log'), logger });
    await db.query('select 1');
    await db.close();
    const opened = logger.lines.find((l) => l.level === 'debug' && /connection opened/.test(l.message));
    const closed = logger.lines.find((l) => l.level === 'debug' && /connection closed/.test(l.message));
    expect(opened?.details).toMatchObject({ pid: expect.any(Number), target: expect.any(String) });
    expect(closed?.details).toMatchObject({ pid: opened?.details['pid'] });
    expect(JSON.stringify(logger.lines)).not.toContain('pw_never_logged');
  });

  it('logs a cancel sent for an aborted statement at debug', async () => {
    const logger = recorder();
    const app = uniqueName('log_cancel');
    await using db = new Database({ url: databaseUrl(), applicationName: app, logger });
    // Aborted once it runs on the server: a 100 ms timeout could fire, on a busy machine, before the
    // statement was sent — and a statement never sent needs no cancel.
    const ac = new AbortController();
    const query = rejectionOf(db.query('select pg_sleep(30)', [], { signal: ac.signal }));
    await until(
      async () =>
        (await backendsOf(databaseUrl(), app)).some(
          (b) => b.state === 'active' && b.query.includes('pg_sleep(30)'),
        ),
      10_000,
      'the statement to run',
    );
    const reason = new Error('gave up');
    ac.abort(reason);
    expect(await query).toBe(reason);
    await until(
      async () => logger.messages('debug').some((m) => /cancel sent/.test(m)),
      10_000,
      'the cancel log',
    );
    const line = logger.lines.find((l) => /cancel sent/.test(l.message));
    expect(line?.details).toMatchObject({ pid: expect.any(Number) });
  });

  it('logs a replaced connection and a LISTEN reconnect', async () => {
    const logger = recorder();
    const app = uniqueName('log_listen');
    await using db = new Database({ url: databaseUrl(), applicationName: app, logger });
    const sub = await db.listen(uniqueName('ch'), { reconnect: { initialDelay: 20, maxDelay: 100 } });
    await db.query('select 1');
    await terminateBackends(databaseUrl(), app);
    await until(async () => sub.reconnects === 1, 10_000, 'the LISTEN reconnect');
    await until(
      async () => logger.lines.some((l) => /LISTEN reconnected/.test(l.message)),
      10_000,
      'the reconnect log',
    );
    // The pooled connection died idle: it is reported lost (warn) and the next borrower gets a new one.
    await db.query('select 1');
    expect(logger.messages('warn').some((m) => /connection lost/.test(m))).toBe(true);
    expect(logger.messages('debug').filter((m) => /connection opened/.test(m)).length).toBeGreaterThanOrEqual(
      4,
    );
    await sub.close();
  });
});
