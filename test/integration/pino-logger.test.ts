/**
 * The kit's one Logger interface is pino's signature (details, then message): a real pino logger
 * plugs into Database and Broker as it is, and the details — the error as `err`, serialised by
 * pino's own `err` serializer — arrive in the JSON line.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Broker } from '../../adapters/amqp/index.js';
import { Database } from '../../adapters/postgres/index.js';
import { until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { terminateBackends } from '../support/pg.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

interface PinoLine {
  level: number;
  msg: string;
  err?: { type: string; message: string; stack: string; code?: string };
  [key: string]: unknown;
}

/** A pino logger at `debug` whose JSON lines are read back from its destination stream. */
function pinoLogger(): { logger: pino.Logger; lines: PinoLine[] } {
  const lines: PinoLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (chunk: string) => void lines.push(JSON.parse(chunk) as PinoLine) },
  );
  return { logger, lines };
}

const WARN = 40;
const DEBUG = 20;

describe('a pino logger plugged in as it is', () => {
  it('new Database({ logger: pino() }) logs a lost idle connection at warn with the error as err, and debug lines with their details', async () => {
    const { logger, lines } = pinoLogger();
    const app = uniqueName('pino_pg');
    // A pooled connection (a lost pipelined one is only logged at debug: the next statement replaces it).
    await using db = new Database({ url: databaseUrl(), applicationName: app, logger, pipeline: false });
    await db.query('select 1');
    await terminateBackends(databaseUrl(), app);
    await until(
      () => lines.some((l) => l.level === WARN && /connection lost/.test(l.msg)),
      10_000,
      'the warn line',
    );
    const lost = lines.find((l) => l.level === WARN && /connection lost/.test(l.msg));
    expect(lost?.err).toMatchObject({
      type: expect.any(String),
      message: expect.stringMatching(/terminat/i),
    });
    expect(lost?.err?.stack).toEqual(expect.any(String));
    const opened = lines.find((l) => l.level === DEBUG && /connection opened/.test(l.msg));
    expect(opened).toMatchObject({ pid: expect.any(Number), target: expect.any(String) });
  });

  it('new Broker({ logger: pino() }) logs a consumer that cannot subscribe at warn with err and the queue', async () => {
    const { logger, lines } = pinoLogger();
    const queue = uniqueName('pino_missing');
    await using broker = new Broker({ url: amqpUrl(), logger, clientName: uniqueName('pino') });
    await broker.connect();
    const consumer = broker.consume(queue, async () => undefined);
    await until(() => lines.some((l) => l.level === WARN && l['queue'] === queue), 10_000, 'the warn line');
    const line = lines.find((l) => l.level === WARN && l['queue'] === queue);
    expect(line?.msg).toMatch(/^connkit\/amqp: /);
    expect(line?.err).toMatchObject({ message: expect.stringMatching(/NOT_FOUND|no queue/i) });
    expect(lines.some((l) => l.level === DEBUG && /connecting/.test(l.msg))).toBe(true);
    await consumer.close();
  });
});
