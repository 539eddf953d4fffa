/**
 * `npm run demo` — an order pipeline over PostgreSQL and RabbitMQ that loses nothing and applies
 * everything once, even with `--chaos` cutting connections while it runs.
 *
 *   npm run demo -- --orders 5000 --concurrency 8 [--chaos] [--cluster] [--trace] [--json] [--verbose]
 *
 * `--cluster` (or `AMQP_URLS`, comma-separated) runs it on a RabbitMQ cluster: the orders go
 * through a quorum queue and the Broker fails over between the nodes. With `--cluster` and no
 * `AMQP_URLS` the demo starts a local 3-node cluster itself (from the installed rabbitmq-server,
 * through the test harness) and stops it at the end; `--chaos` then also kills and restarts nodes.
 *
 * `--trace` registers an in-memory OpenTelemetry SDK before anything is made, runs each order under a
 * root span of its own, and prints one order's trace at the end as a tree: root → enqueue (the
 * outbox's create span) → publish (the relay's send span) → deliver (the consumer's process span) →
 * apply (the handler's span), with durations (on stderr with `--json`, so stdout stays one object).
 */
import { parseArgs } from 'node:util';
import { runMain } from '../../src/index.js';
import { parseClusterUrls } from '../../test/support/rabbit-cluster/descriptor.js';
import { startLocalCluster, type StandaloneCluster } from '../../test/support/rabbit-cluster/standalone.js';
import { ServicesUnavailableError, resolveServices } from '../../test/support/service-resolution.js';
import { runPipeline } from './pipeline.js';
import { formatSummary } from './summary.js';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '8' },
    producers: { type: 'string', default: '8' },
    chaos: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    deadline: { type: 'string', default: '300000' },
    help: { type: 'boolean', default: false },
  },
});

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

if (values.help) {
  console.log(
    'usage: npm run demo -- [--orders N=5000] [--concurrency N=8] [--producers N=8] [--chaos] [--cluster] [--trace] [--json] [--verbose]\n' +
      '  --cluster   a RabbitMQ cluster: AMQP_URLS (comma-separated) if set, else a local 3-node cluster started here\n' +
      "  --trace     an in-memory OpenTelemetry SDK; prints one order's trace (root → enqueue → publish → deliver → apply)",
  );
  process.exit(0);
}

await runMain(async (signal) => {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  // Registered before connkit's resources are made; loaded only when asked for.
  const tracing = values.trace ? (await import('./trace.js')).installDemoTracing() : undefined;
  const clusterUrls = parseClusterUrls(process.env['AMQP_URLS']);
  let services;
  try {
    services = await resolveServices({ log: (line) => log(`[services] ${line}`) });
  } catch (err) {
    // runMain turns a rejection into exit code 1; the message alone says what to do.
    if (err instanceof ServicesUnavailableError) throw new Error(err.message);
    throw err;
  }
  let local: StandaloneCluster | undefined;
  try {
    if (values.cluster && clusterUrls === undefined) {
      log('[cluster] starting a local 3-node RabbitMQ cluster');
      local = await startLocalCluster((line) => log(`[cluster] ${line}`));
    }
    const amqpUrls = local?.cluster.urls ?? clusterUrls ?? [services.amqpUrl];
    log(
      `orders ${values.orders}, concurrency ${values.concurrency}` +
        `${amqpUrls.length > 1 ? `, cluster of ${amqpUrls.length}` : ''}${values.chaos ? ', chaos on' : ''}`,
    );
    const summary = await runPipeline({
      databaseUrl: services.databaseUrl,
      amqpUrls,
      nodes: local?.cluster,
      orders: positiveInt('orders', values.orders),
      concurrency: positiveInt('concurrency', values.concurrency),
      producers: positiveInt('producers', values.producers),
      chaos: values.chaos,
      deadline: positiveInt('deadline', values.deadline),
      log: values.verbose ? log : undefined,
      inSpan: tracing?.inSpan,
      signal,
    });
    console.log(values.json ? JSON.stringify(summary) : formatSummary(summary));
    if (tracing !== undefined) {
      const tree = tracing.formatOneOrder();
      if (values.json) log(tree);
      else console.log(`\n${tree}`);
    }
    if (summary.lost > 0 || summary.appliedTwice > 0) {
      throw new Error(`${summary.lost} orders lost, ${summary.appliedTwice} applied twice`);
    }
  } finally {
    await local?.stop();
    await services.stop();
    await tracing?.uninstall();
  }
});
