/**
 * The order pipeline: producers write orders with outbox events in one transaction; the relay
 * publishes them; consumers apply each order once through the inbox and record a result.
 */
import { randomBytes } from 'node:crypto';
import { Broker } from '../../adapters/amqp/index.js';
import { Inbox, Outbox } from '../../adapters/outbox/index.js';
import { Database } from '../../adapters/postgres/index.js';
import { Semaphore, createTask, retry, sleep, type Logger } from '../../src/index.js';
import { redactUrl } from '../../adapters/amqp/options.js';
import { createChaos, type Chaos, type NodeControl } from './chaos.js';
import { createProgress } from './progress.js';
import { deleteQueues } from '../../test/support/amqp.js';
import type { Summary } from './summary.js';

export interface PipelineOptions {
  databaseUrl: string;
  /** One broker URL, or a cluster's nodes (then the orders queue is a quorum queue). */
  amqpUrls: string[];
  /** With chaos on a cluster the demo runs itself: its nodes are killed and restarted. */
  nodes?: NodeControl | undefined;
  orders: number;
  concurrency: number;
  producers: number;
  chaos: boolean;
  /** Where the Broker's reconnects and re-publishes are told (stderr with `--verbose`). */
  log?: ((line: string) => void) | undefined;
  /** Give up waiting for the pipeline to finish after this many milliseconds. */
  deadline: number;
  signal: AbortSignal;
  /**
   * `--trace`: runs `fn` inside a new active span (each order's root, and the handler's work). The
   * demo passes the in-memory SDK's (see trace.ts); without it nothing is traced.
   */
  inSpan?: (<T>(name: string, fn: () => Promise<T>) => Promise<T>) | undefined;
}

/** Consumer retry delays (ms): attempts back off through these, the last one repeating. */
const RETRY_DELAYS = [50, 200, 1000];

interface OrderEvent {
  orderId: number;
  createdAt: number;
}

/** The Broker's info and warn lines, one per line, with the time since the start. */
function brokerLogger(log: (line: string) => void): Logger {
  const started = Date.now();
  const line = (level: string) => (details: Record<string, unknown>, message: string) =>
    log(
      `[broker +${((Date.now() - started) / 1000).toFixed(1)}s] ${level} ${message} ${JSON.stringify(details, (_, v: unknown) => (v instanceof Error ? v.message : v))}`,
    );
  return { info: line('info'), warn: line('warn') };
}

/** Runs the whole pipeline once, cleans up after itself, and returns the summary. */
export async function runPipeline(opts: PipelineOptions): Promise<Summary> {
  const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const schema = `connkit_demo_${runId}`;
  const queue = `connkit_demo_orders_${runId}`;
  const applicationName = `connkit-demo-${runId}`;

  let chaos: Chaos | undefined;
  const cluster = opts.amqpUrls.length > 1;
  // The node the Broker is on, for the chaos to hit (found by port: stats().url is redacted).
  const busyNode = (): number | undefined => {
    const port = new URL(broker.stats().url ?? 'amqp://x').port;
    const i = opts.amqpUrls.findIndex((u) => new URL(u).port === port);
    return i < 0 ? undefined : i;
  };
  if (opts.chaos) {
    chaos = await createChaos(opts.databaseUrl, opts.amqpUrls, applicationName, opts.nodes, busyNode);
  }
  const db = new Database({
    url: chaos?.databaseUrl ?? opts.databaseUrl,
    applicationName,
    pool: { max: 10 },
  });
  const broker = new Broker({
    urls: chaos?.amqpUrls ?? opts.amqpUrls,
    clientName: applicationName,
    reconnect: { initialDelay: 100, maxDelay: 2000 },
    ...(opts.log && { logger: brokerLogger(opts.log) }),
  });
  // A separate, chaos-free connection for setup, checks and cleanup.
  const admin = new Database({
    url: opts.databaseUrl,
    applicationName: `${applicationName}-admin`,
    pool: { max: 2 },
  });

  let delivered = 0;
  let created = 0;
  const progress = createProgress(opts.orders);
  const stopChaos = new AbortController();
  try {
    await admin.query(`create schema ${schema}`);
    await admin.query(`create table ${schema}.orders (
      id bigint primary key, customer text not null, amount numeric not null, created_at timestamptz not null default now())`);
    // No unique constraint on purpose: an order applied twice would show up as two rows.
    await admin.query(
      `create table ${schema}.results (order_id bigint not null, latency_ms float8 not null)`,
    );
    await broker.connect({ signal: opts.signal });
    // On a cluster the queue is replicated on every node, and so are its retry queues.
    await broker.declare({ queues: [{ name: queue, type: cluster ? 'quorum' : 'classic' }] });

    const outbox = new Outbox(db, broker, { table: `${schema}.outbox`, batchSize: 200, pollInterval: 200 });
    const inbox = new Inbox(db, { table: `${schema}.inbox` });
    await outbox.install();
    await inbox.install();

    const inSpan = opts.inSpan ?? (<T>(_name: string, fn: () => Promise<T>): Promise<T> => fn());
    const apply = inbox.handler<OrderEvent>(async (msg, tx) => {
      const latency = Date.now() - msg.body.createdAt;
      await inSpan(`apply order ${msg.body.orderId}`, () =>
        tx.query(`insert into ${schema}.results (order_id, latency_ms) values ($1, $2)`, [
          msg.body.orderId,
          latency,
        ]),
      );
    });
    const consumer = broker.consume<OrderEvent>(
      queue,
      async (msg, signal) => {
        delivered += 1;
        await apply(msg, signal);
      },
      {
        concurrency: opts.concurrency,
        prefetch: opts.concurrency * 2,
        retry: { attempts: 20, delay: RETRY_DELAYS },
      },
    );
    await consumer.ready;
    const relay = outbox.start();
    const chaosTask = chaos ? createTask(() => chaos.run(stopChaos.signal)) : undefined;

    const started = Date.now();
    // Producers: each order in its own transaction with its outbox event. Under chaos a commit can
    // fail ambiguously, so the insert is idempotent and the whole transaction is retried.
    const slots = new Semaphore(opts.producers);
    const produce = async (orderId: number): Promise<void> => {
      // With --trace each order is a trace of its own: its root span, then the outbox's create span.
      await inSpan(`order ${orderId}`, () => produceOnce(orderId));
      created += 1;
    };
    const produceOnce = async (orderId: number): Promise<void> => {
      await retry(
        () =>
          db.transaction(async (tx) => {
            const inserted = await tx.query(
              `insert into ${schema}.orders (id, customer, amount) values ($1, $2, $3) on conflict (id) do nothing`,
              [orderId, `customer-${orderId % 97}`, (orderId % 500) + 0.99],
            );
            if (inserted.rowCount === 0) return; // committed by an earlier attempt
            const event: OrderEvent = { orderId, createdAt: Date.now() };
            await outbox.enqueue(tx, {
              exchange: '',
              routingKey: queue,
              body: event,
              messageId: `order-${runId}-${orderId}`,
            });
          }),
        { attempts: 50, initialDelay: 20, maxDelay: 1000, signal: opts.signal },
      );
    };
    const producing = Promise.all(
      Array.from({ length: opts.orders }, (_, i) => slots.use(() => produce(i + 1), { signal: opts.signal })),
    );

    let applied = 0;
    let published = 0;
    const finishBy = Date.now() + opts.deadline;
    for (;;) {
      applied = (
        await admin.one<{ n: number }>(`select count(distinct order_id)::int as n from ${schema}.results`)
      ).n;
      // The relay's connection is under chaos too: a failed stats read just keeps the last figure.
      published = (await relay.stats().catch(() => undefined))?.published ?? published;
      progress.update({
        created,
        published,
        applied,
        faults: chaos?.faults ?? 0,
      });
      if (applied >= opts.orders || Date.now() > finishBy || opts.signal.aborted) break;
      await sleep(200, { signal: opts.signal }).catch(() => undefined);
    }
    await producing;
    const elapsedMs = Date.now() - started;
    stopChaos.abort();
    await chaosTask;
    const relayStats = await retry(() => relay.stats(), { attempts: 10, signal: opts.signal });
    await relay.stop();
    await consumer.close({ timeout: 10_000 });
    progress.stop();

    // Latencies of committed results only: a rolled-back attempt leaves no row.
    const check = await admin.one<{
      orders: number;
      lost: number;
      applied_twice: number;
      p50: number;
      p99: number;
    }>(`
      select (select count(*)::int from ${schema}.orders) as orders,
             (select coalesce(percentile_cont(0.5) within group (order by latency_ms), 0) from ${schema}.results) as p50,
             (select coalesce(percentile_cont(0.99) within group (order by latency_ms), 0) from ${schema}.results) as p99,
             (select count(*)::int from ${schema}.orders o
                where not exists (select 1 from ${schema}.results r where r.order_id = o.id)) as lost,
             (select count(*)::int from (select order_id from ${schema}.results group by order_id having count(*) > 1) d)
               as applied_twice`);
    const inboxStats = inbox.stats();
    return {
      orders: check.orders,
      published: relayStats.published,
      delivered,
      duplicatesDelivered: Math.max(0, delivered - inboxStats.applied - inboxStats.failed),
      duplicatesSuppressed: inboxStats.duplicates,
      lost: check.lost + Math.max(0, opts.orders - check.orders),
      appliedTwice: check.applied_twice,
      throughputPerSec: Math.round((applied / elapsedMs) * 1000),
      p50Ms: Math.round(check.p50),
      p99Ms: Math.round(check.p99),
      elapsedMs,
      faultsInjected: chaos?.faults ?? 0,
      nodeFaults: chaos?.nodeFaults ?? 0,
      amqpUrls: opts.amqpUrls.map(redactUrl),
      pool: db.stats(),
      broker: broker.stats(),
    };
  } finally {
    progress.stop();
    stopChaos.abort();
    await broker.close({ timeout: 5000 }).catch(() => undefined);
    await db.close({ timeout: 5000 }).catch(() => undefined);
    await chaos?.close();
    await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await admin.close();
    // The consumer's retries go through one delay queue per delay: they are the run's too.
    const delayQueues = RETRY_DELAYS.map((ms) => `${queue}.connkit-delay.${ms}ms`);
    await deleteQueues(opts.amqpUrls[0]!, [queue, ...delayQueues]).catch(() => undefined);
  }
}
