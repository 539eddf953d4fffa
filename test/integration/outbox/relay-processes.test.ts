/**
 * The outbox across processes: three relay processes (test/support/outbox-relay-child.ts) share one
 * table; one is SIGKILLed in the middle of a batch — its rows locked, its messages already on the
 * queue, their confirms not yet back. Its locks go with its connection, the other relays publish
 * those rows again, and the inbox drops the duplicates: every row is published, nothing is lost,
 * every effect is applied once. Prints the counts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../../adapters/amqp/index.js';
import { Inbox, Outbox } from '../../../adapters/outbox/index.js';
import { Database } from '../../../adapters/postgres/index.js';
import { until } from '../../support/async.js';
import { deleteQueues } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { createTestSchema } from '../../support/pg.js';
import { amqpUrl, databaseUrl } from '../../support/services.js';

const CHILD = fileURLToPath(new URL('../../support/outbox-relay-child.ts', import.meta.url));
const ROWS = 1_000;
const BATCH = 50;

interface RelayProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Starts a relay process and resolves once it printed `ready`. */
async function startRelay(table: string, opts: { stallConfirms?: boolean } = {}): Promise<RelayProcess> {
  const name = uniqueName('relayproc');
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl(),
      AMQP_URL: amqpUrl(),
      OUTBOX_TABLE: table,
      RELAY_NAME: name,
      BATCH_SIZE: String(BATCH),
      STALL_CONFIRMS: opts.stallConfirms ? '1' : '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    void exited.then((code) =>
      reject(new Error(`relay ${name} exited (${code}) before it was ready:\n${stderr}`)),
    );
  });
  return { name, child, exited };
}

describe('Outbox relays in several processes', () => {
  let schema: { name: string; drop(): Promise<void> };
  let db: Database;
  let broker: Broker;
  const queue = uniqueName('relayq');
  const relays: RelayProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema(databaseUrl());
    db = new Database({ url: databaseUrl(), applicationName: uniqueName('relayproc-test') });
    broker = new Broker({ url: amqpUrl(), clientName: uniqueName('relayproc-test') });
    await broker.connect();
    await broker.declare({ queues: [{ name: queue, options: { durable: true } }] });
  });

  afterAll(async () => {
    for (const r of relays) r.child.kill('SIGKILL');
    await Promise.all(relays.map((r) => r.exited));
    await broker.close();
    await db.close();
    await schema.drop();
    await deleteQueues(amqpUrl(), [queue]);
  });

  it('three relay processes, one SIGKILLed mid-batch: every row published, none lost, duplicates dropped by the inbox', async () => {
    const table = `${schema.name}.outbox`;
    const outbox = new Outbox(db, broker, { table });
    await outbox.install();
    const inbox = new Inbox(db, { table: `${schema.name}.inbox` });
    await inbox.install();
    await db.query(`create table ${schema.name}.effects (message_id text not null)`);
    const ids: string[] = [];
    for (let chunk = 0; chunk < ROWS / 100; chunk++) {
      await db.transaction(async (tx) => {
        for (let i = 0; i < 100; i++) {
          ids.push(
            await outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { n: chunk * 100 + i } }),
          );
        }
      });
    }
    const consumer = broker.consume(
      queue,
      inbox.handler(async (msg, tx) => {
        await tx.query(`insert into ${schema.name}.effects values ($1)`, [msg.properties.messageId]);
      }),
      { concurrency: 8, prefetch: 64 },
    );
    await consumer.ready;
    try {
      // The victim runs alone first: it locks its first batches and publishes them, and their
      // confirms never come back — it is stuck mid-batch, which is where it will be killed.
      const victim = await startRelay(table, { stallConfirms: true });
      relays.push(victim);
      const midBatch = async () => {
        const rows = await db.rows(
          `select 1 from pg_stat_activity where application_name = $1 and backend_xid is not null
             and state = 'idle in transaction' and query ilike '%for update skip locked%'`,
          [victim.name],
        );
        return rows.length > 0;
      };
      await until(midBatch, 60_000, 'the victim relay holding a locked batch');
      await until(() => inbox.stats().applied >= BATCH, 60_000, "the victim's first batch delivered");
      const deliveredByVictim = inbox.stats().applied;

      relays.push(await startRelay(table), await startRelay(table));
      await until(
        () => inbox.stats().applied >= deliveredByVictim + 2 * BATCH,
        60_000,
        'the other relays publishing',
      );
      expect(await midBatch()).toBe(true); // still holding its batch when it dies
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBeNull();

      const pending = async () => (await db.one<{ n: number }>(`select count(*)::int as n from ${table}`)).n;
      await until(
        async () => (await pending()) === 0 && inbox.stats().applied === ROWS,
        120_000,
        'every row applied',
      );
      for (const r of relays.slice(1)) r.child.kill('SIGTERM');
      expect(await Promise.all(relays.slice(1).map((r) => r.exited))).toEqual([0, 0]);

      const effects = await db.one<{ total: number; distinct: number }>(
        `select count(*)::int as total, count(distinct message_id)::int as distinct from ${schema.name}.effects`,
      );
      const applied = new Set(
        (await db.rows<{ message_id: string }>(`select message_id from ${schema.name}.effects`)).map(
          (r) => r.message_id,
        ),
      );
      const stats = inbox.stats();
      console.log(
        `[outbox processes] ${ROWS} rows, 3 relay processes, one SIGKILLed mid-batch after ${deliveredByVictim} of its ` +
          `messages were delivered: applied ${stats.applied}, duplicates dropped by the inbox ${stats.duplicates}, ` +
          `effect rows ${effects.total} (${effects.distinct} distinct), rows left ${await pending()}`,
      );
      expect(effects).toEqual({ total: ROWS, distinct: ROWS });
      expect(applied).toEqual(new Set(ids));
      expect(stats.applied).toBe(ROWS);
      expect(stats.failed).toBe(0);
      // Each message the victim had delivered was published again by another relay.
      expect(stats.duplicates).toBeGreaterThanOrEqual(deliveredByVictim);
    } finally {
      await consumer.close();
    }
    // Four processes and a thousand transactions: minutes on a saturated 2-core machine.
  }, 300_000);
});
