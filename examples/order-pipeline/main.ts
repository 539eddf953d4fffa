/**
 * `npm run demo` — an order pipeline over PostgreSQL and RabbitMQ that loses nothing and applies
 * everything once, even with `--chaos` cutting connections while it runs.
 *
 *   npm run demo -- --orders 5000 --concurrency 8 [--chaos] [--json]
 */
import { parseArgs } from 'node:util';
import { runMain } from '../../src/index.js';
import { ServicesUnavailableError, resolveServices } from '../../test/support/service-resolution.js';
import { runPipeline } from './pipeline.js';
import { formatSummary } from './summary.js';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '8' },
    producers: { type: 'string', default: '8' },
    chaos: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
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
    'usage: npm run demo -- [--orders N=5000] [--concurrency N=8] [--producers N=8] [--chaos] [--json]',
  );
  process.exit(0);
}

await runMain(async (signal) => {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  let services;
  try {
    services = await resolveServices({ log: (line) => log(`[services] ${line}`) });
  } catch (err) {
    // runMain turns a rejection into exit code 1; the message alone says what to do.
    if (err instanceof ServicesUnavailableError) throw new Error(err.message);
    throw err;
  }
  try {
    log(`orders ${values.orders}, concurrency ${values.concurrency}${values.chaos ? ', chaos on' : ''}`);
    const summary = await runPipeline({
      databaseUrl: services.databaseUrl,
      amqpUrl: services.amqpUrl,
      orders: positiveInt('orders', values.orders),
      concurrency: positiveInt('concurrency', values.concurrency),
      producers: positiveInt('producers', values.producers),
      chaos: values.chaos,
      deadline: positiveInt('deadline', values.deadline),
      signal,
    });
    console.log(values.json ? JSON.stringify(summary) : formatSummary(summary));
    if (summary.lost > 0 || summary.appliedTwice > 0) {
      throw new Error(`${summary.lost} orders lost, ${summary.appliedTwice} applied twice`);
    }
  } finally {
    await services.stop();
  }
});
