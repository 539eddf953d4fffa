/**
 * A relay process for the multi-process outbox test (test/integration/outbox/relay-processes.test.ts):
 * starts an `Outbox` relay on one table and runs until SIGTERM (stops the relay, closes, exits 0) or
 * SIGKILL. Prints `ready` once the relay runs.
 *
 * Environment: `DATABASE_URL`, `AMQP_URL`, `OUTBOX_TABLE`, `RELAY_NAME` (application_name and AMQP
 * client name), `BATCH_SIZE`. With `STALL_CONFIRMS=1` the relay's broker connection goes through an
 * in-process proxy that, once the confirm channel is open, holds back everything RabbitMQ sends: its
 * publishes reach the queue but their confirms never arrive, so its first batches stay open — rows
 * locked, messages delivered, not deleted — until the process is killed mid-batch.
 *
 * Run: `node --import tsx test/support/outbox-relay-child.ts`.
 */
import { Broker, UnroutableError } from '../../adapters/amqp/index.js';
import { Outbox } from '../../adapters/outbox/index.js';
import { Database } from '../../adapters/postgres/index.js';
import { ChaosProxy } from './proxy.js';

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`outbox-relay-child: ${name} is not set`);
  return value;
}

const amqpUrl = env('AMQP_URL');
const name = env('RELAY_NAME');
const proxy = process.env['STALL_CONFIRMS'] === '1' ? await ChaosProxy.forUrl(amqpUrl, 5672) : undefined;
// The stalled relay must hold its batch until it is killed, however long a busy machine takes to get
// there: its publishes never time out, and it runs without heartbeats (the proxy holds back the
// broker's, so with the default 10 s it would leave the connection after ~10 s, rolling back).
const broker = new Broker({
  url: proxy ? proxy.rewrite(amqpUrl) : amqpUrl,
  clientName: name,
  ...(proxy ? { heartbeat: 0 } : {}),
});
await broker.connect();
const db = new Database({ url: env('DATABASE_URL'), applicationName: name });
if (proxy !== undefined) {
  // One confirmed round trip first (an unroutable publish comes back as UnroutableError), so the
  // confirm channel is open before the broker's answers are held back.
  await broker.publish('amq.topic', `${name}.warm-up`, 'warm-up').catch((err: unknown) => {
    if (!(err instanceof UnroutableError)) throw err;
  });
  proxy.stall(true, 'replies');
}
const outbox = new Outbox(db, broker, {
  table: env('OUTBOX_TABLE'),
  batchSize: Number(env('BATCH_SIZE')),
  pollInterval: 100,
  ...(proxy ? { publishTimeout: Infinity } : {}),
});
const relay = outbox.start();
process.once('SIGTERM', () => {
  void (async () => {
    await relay.stop();
    await broker.close({ timeout: 2_000 });
    await db.close();
    await proxy?.close();
    process.exit(0);
  })();
});
process.stdout.write('ready\n');
