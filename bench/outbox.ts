/**
 * Suite `outbox`: how fast the relay drains committed outbox rows to RabbitMQ (read, publish with
 * confirms, delete — all in one transaction per batch) against publishing the same messages directly
 * with confirms through the same Broker (the ceiling the relay can approach).
 * @module
 */
import { performance } from 'node:perf_hooks';
import { Broker } from '../adapters/amqp/index.js';
import { Outbox } from '../adapters/outbox/index.js';
import { Database } from '../adapters/postgres/index.js';
import { sleep } from '../src/timeout.js';
import { benchServices } from './_services.js';
import { startClock } from './harness.js';
import type { Contender, RoundResult, Suite } from './harness.js';

const { databaseUrl: DATABASE_URL, amqpUrl: AMQP_URL } = await benchServices();
const MESSAGES = 20_000;
const IN_FLIGHT = 256;
const TABLE = `connkit_bench_outbox_${process.pid}`;
const QUEUE = `connkit_bench_outbox_${process.pid}`;

let db: Database | undefined;
let broker: Broker | undefined;

async function shared(): Promise<{ db: Database; broker: Broker }> {
  db ??= new Database({ url: DATABASE_URL, applicationName: 'bench_outbox', pool: { max: 4 } });
  if (!broker) {
    broker = new Broker({ url: AMQP_URL, clientName: 'bench_outbox' });
    await broker.connect();
    await broker.declare({
      queues: [{ name: QUEUE, options: { durable: false, arguments: { 'x-max-length': 100_000 } } }],
    });
  }
  return { db, broker };
}

const body = { orderId: 1, customer: 'bench', amount: 9.99 };

const relay: Contender = {
  name: `connkit Outbox relay (batch 256)`,
  async setup() {
    const s = await shared();
    await new Outbox(s.db, s.broker, { table: TABLE }).install();
  },
  async run(): Promise<RoundResult> {
    const s = await shared();
    const outbox = new Outbox(s.db, s.broker, { table: TABLE, batchSize: IN_FLIGHT, pollInterval: 10 });
    // Rows committed up front (one multi-row insert): the round measures the relay alone.
    await s.db.query(
      `insert into ${TABLE} (message_id, exchange, routing_key, content, content_type)
       select gen_random_uuid()::text, '', $1, convert_to($2, 'utf8'), 'application/json' from generate_series(1, $3)`,
      [QUEUE, JSON.stringify(body), MESSAGES],
    );
    // Progress is read from the broker's confirm counter (no query): a count(*) of the table every
    // few ms was a seq scan over the churning table that cost PostgreSQL CPU during the round.
    const confirmedBefore = s.broker.stats().publisher.confirmed;
    const clock = startClock();
    const running = outbox.start();
    const deadline = performance.now() + 120_000;
    while (s.broker.stats().publisher.confirmed - confirmedBefore < MESSAGES) {
      if (performance.now() > deadline)
        throw new Error('outbox bench: the relay did not drain within 2 minutes');
      await sleep(1);
    }
    // Confirmed is not yet deleted: the last batch's DELETE and COMMIT are part of the drain.
    while ((await s.db.one<{ n: number }>(`select count(*)::int as n from ${TABLE}`)).n > 0) await sleep(1);
    const timed = clock.read();
    await running.stop();
    return { ops: MESSAGES, ...timed };
  },
  async teardown() {
    await db?.query(`drop table if exists ${TABLE}`);
  },
};

const direct: Contender = {
  name: `Broker.publish direct (${IN_FLIGHT} in flight)`,
  async run(): Promise<RoundResult> {
    const s = await shared();
    let next = 0;
    const clock = startClock();
    const worker = async (): Promise<void> => {
      while (next++ < MESSAGES) await s.broker.publish('', QUEUE, body);
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return { ops: MESSAGES, ...clock.read() };
  },
  async teardown() {
    await broker?.close();
    await db?.close();
  },
};

export const suite: Suite = {
  name: 'outbox',
  description: `${MESSAGES} messages: relay drain (read + confirmed publish + delete) vs direct confirmed publish`,
  contenders: [relay, direct],
  rounds: 3,
  maxTimeMs: 90_000,
  settleMs: 100,
};
