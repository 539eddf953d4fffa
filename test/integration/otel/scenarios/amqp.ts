/**
 * connkit's Broker used as an application uses it, under @opentelemetry/instrumentation-amqplib (and
 * -pg, for a query inside the handler): `node --import ./register.mjs --import tsx amqp.ts` with
 * AMQP_URL and DATABASE_URL set. Four cases: publish on the confirm channel and consume; RPC
 * (call/serve); deliveries buffered by connkit (prefetch > concurrency); publishes queued behind
 * the confirm window (more than 512 unconfirmed).
 */
import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import { Broker } from '../../../../adapters/amqp/index.js';
import { Database } from '../../../../adapters/postgres/index.js';
import { report } from './report.js';

const amqpUrl = process.env['AMQP_URL'];
const databaseUrl = process.env['DATABASE_URL'];
if (amqpUrl === undefined || databaseUrl === undefined)
  throw new Error('AMQP_URL and DATABASE_URL are required');
const tracer = trace.getTracer('scenario');
const id = randomUUID().slice(0, 8);
const [plain, rpc, buffered, flood] = ['plain', 'rpc', 'buffered', 'flood'].map((q) => `otel_${q}_${id}`) as [
  string,
  string,
  string,
  string,
];
// The broker deletes them a minute after their last use: nothing is left behind.
const queue = (name: string) => ({ name, options: { durable: false, arguments: { 'x-expires': 60_000 } } });
const broker = new Broker({ url: amqpUrl, topology: { queues: [plain, rpc, buffered, flood].map(queue) } });
const db = new Database({ url: databaseUrl });
const activeSpanId = () => trace.getSpan(context.active())?.spanContext().spanId;
const facts: Record<string, unknown> = {};
const deferred = () => {
  let resolve!: () => void;
  return { promise: new Promise<void>((r) => (resolve = r)), resolve };
};

try {
  await broker.connect();

  // 1. publish (confirm channel) → consume, a query inside the handler.
  const handled = deferred();
  const consumer = broker.consume<string>(plain, async (msg) => {
    facts['plainHandlerSpan'] = activeSpanId();
    facts['plainTraceparent'] = msg.properties.headers?.['traceparent'];
    await db.query('select $1::text as in_handler', [msg.body]);
    handled.resolve();
  });
  await consumer.ready;
  await tracer.startActiveSpan('publisher', async (span) => {
    facts['publisher'] = span.spanContext().spanId;
    await broker.publish('', plain, 'body-secret-0815');
    span.end();
  });
  await handled.promise;
  await consumer.close();

  // 2. RPC: call → serve → reply.
  const server = broker.serve<string>(rpc, async (msg) => {
    facts['serveHandlerSpan'] = activeSpanId();
    return msg.body.toUpperCase();
  });
  await server.ready;
  await tracer.startActiveSpan('caller', async (span) => {
    facts['caller'] = span.spanContext().spanId;
    facts['reply'] = await broker.call<string>(rpc, 'ping', { timeout: 10_000 });
    span.end();
  });
  await server.close();

  // 3. Three messages from three callers, one handler at a time, all three delivered at once.
  const seen: { body: number; active: string | undefined; traceparent: unknown }[] = [];
  const three = deferred();
  const allDelivered = deferred();
  const slow = broker.consume<number>(
    buffered,
    async (msg) => {
      seen.push({
        body: msg.body,
        active: activeSpanId(),
        traceparent: msg.properties.headers?.['traceparent'],
      });
      if (seen.length === 1) await allDelivered.promise; // the other two wait in connkit's buffer
      if (seen.length === 3) three.resolve();
    },
    { concurrency: 1, prefetch: 10 },
  );
  await slow.ready;
  facts['bufferedCallers'] = await Promise.all(
    [0, 1, 2].map((n) =>
      tracer.startActiveSpan(`sender-${n}`, async (span) => {
        await broker.publish('', buffered, n);
        span.end();
        return span.spanContext().traceId;
      }),
    ),
  );
  // Wait (up to 10 s) until the other two are delivered and wait in connkit's buffer.
  for (let i = 0; i < 1000 && slow.stats().buffered < 2; i++) await new Promise((r) => setTimeout(r, 10));
  facts['bufferedWhileFirstRan'] = slow.stats().buffered;
  allDelivered.resolve();
  await three.promise;
  facts['buffered'] = seen;
  await slow.close();

  // 4. 700 publishes at once, each from its own caller: the confirm window lets 512 out at once.
  const callers: string[] = [];
  await Promise.all(
    Array.from({ length: 700 }, (_, n) =>
      tracer.startActiveSpan(`flood-${n}`, async (span) => {
        callers.push(span.spanContext().spanId);
        await broker.publish('', flood, n);
        span.end();
      }),
    ),
  );
  facts['floodCallers'] = callers;
} finally {
  await Promise.all([broker.close(), db.close()]);
}
report(facts);
