/**
 * Suite `postgres-telemetry`: what the PostgreSQL adapter's observability costs on the `postgres`
 * workload (`select $1::int`, 64 callers, connkit's default pipelined `Database`) — without any
 * observer (the subject, as most applications run it), with an OpenTelemetry MeterProvider
 * registered (every statement's `db.client.operation.duration` and pipeline depth recorded), with a
 * subscriber to `connkit:postgres:query` (no-op handlers), and with both. The ratio column is
 * "no observer ÷ this row": above 1.00× is what the observer costs.
 *
 * Each contender owns its `Database`; the MeterProvider is registered only while that contender's
 * `Database` is made (a Database takes its instruments when it is made), and the channel subscriber
 * only for the rounds of the contenders that have one.
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Database } from '../adapters/postgres/index.js';
import { OnDemandReader } from '../test/support/otel.js';
import { CALLERS, CONNECTIONS, DATABASE_URL, drive } from './_postgres-common.js';
import type { Contender, Suite } from './harness.js';

const PER_ROUND = 20_000;
const TEXT = 'select $1::int as v';

const channel = diagnosticsChannel.tracingChannel('connkit:postgres:query');
const noop = (): void => undefined;
const handlers = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };

function contender(name: string, opts: { meter: boolean; subscriber: boolean }): Contender {
  let db: Database | undefined;
  let provider: MeterProvider | undefined;
  return {
    name,
    setup: () => {
      if (opts.meter) {
        provider = new MeterProvider({ readers: [new OnDemandReader()] });
        metrics.setGlobalMeterProvider(provider);
      }
      try {
        db = new Database({ url: DATABASE_URL, applicationName: 'bench_connkit_otel' });
      } finally {
        if (opts.meter) metrics.disable(); // the Database keeps its instruments; nobody else gets any
      }
    },
    run: async () => {
      if (opts.subscriber) channel.subscribe(handlers);
      try {
        return await drive(PER_ROUND, CALLERS, (i) => db!.query(TEXT, [i]));
      } finally {
        if (opts.subscriber) channel.unsubscribe(handlers);
      }
    },
    teardown: async () => {
      await db?.close();
      await provider?.shutdown();
    },
  };
}

/** The suite run by `npm run bench -- postgres-telemetry`. */
export const suite: Suite = {
  name: 'postgres-telemetry',
  description: `${TEXT}: ${CALLERS} concurrent callers, connkit Database default (pipelined, pool of ${CONNECTIONS}), ${PER_ROUND} queries/round, without and with observers`,
  rounds: 5,
  maxTimeMs: 90_000,
  settleMs: 100,
  contenders: [
    contender('connkit, no observer', { meter: false, subscriber: false }),
    contender('connkit, MeterProvider registered', { meter: true, subscriber: false }),
    contender('connkit, channel subscriber', { meter: false, subscriber: true }),
    contender('connkit, MeterProvider + subscriber', { meter: true, subscriber: true }),
  ],
};
