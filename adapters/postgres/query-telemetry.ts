/**
 * {@link QueryTelemetry}: what one server of a `Database` tells observers about its statements — the
 * `connkit:postgres:query` TracingChannel (when someone subscribes) and the statement metrics (when a
 * MeterProvider is registered, see `query-metrics.ts`). With neither, `active` is false and callers
 * take their plain path: no context object, no closure, no clock read.
 *
 * What counts as one statement: a `db.query()` (and `rows`/`one`/`maybeOne`, `notify`, `ping`) on the
 * server that runs it, from the call to the result — its wait for a connection or behind other
 * pipelined statements included, a re-send after a cancel of connkit's included; and each statement a
 * transaction sends (`BEGIN`, `tx.query()`, savepoints, `COMMIT`/`ROLLBACK`). A `readOnly` statement
 * re-run on the primary because its replica was unreachable is two: one failed on the replica, one on
 * the primary. Not published: `withClient()` (the raw `pg.Client` is yours — instrumentation-pg sees
 * it), streams and COPY, and connkit's own housekeeping (session checks, replica probes, cancels).
 * @module
 */
import type pg from 'pg';
import { now, type PostgresQueryContext, postgresQueryChannel, traceCall } from '../../src/internal/index.js';
import { QueryMetrics, type PipelineSource, type ServerIdentity } from './query-metrics.js';
import type { QueryInput } from './query-input.js';

export type { PipelineSource, ServerIdentity } from './query-metrics.js';

/**
 * The statement observers of one server.
 *
 * @example
 * ```ts
 * const telemetry = new QueryTelemetry(server, 'postgres://db1:5432/shop', undefined);
 * const res = telemetry.active ? telemetry.observe(input, false, false, () => pool.run(input, limits)) : pool.run(input, limits);
 * ```
 */
export class QueryTelemetry {
  /** `undefined` without a registered MeterProvider (nothing measured). */
  readonly metrics: QueryMetrics | undefined;
  readonly #server: ServerIdentity;

  constructor(server: ServerIdentity, poolName: string, pipeline: PipelineSource | undefined) {
    this.#server = server;
    this.metrics = QueryMetrics.open(server, poolName, pipeline);
  }

  /** True when a statement has an observer: metrics, or a subscriber to the channel. */
  get active(): boolean {
    return this.metrics !== undefined || postgresQueryChannel.hasSubscribers;
  }

  /**
   * Runs one statement under the observers: published on the channel (the context carries the text
   * and the number of values, never a value), its duration recorded.
   */
  observe(
    input: QueryInput,
    pipelined: boolean,
    transaction: boolean,
    run: () => Promise<pg.QueryResult>,
  ): Promise<pg.QueryResult> {
    const metrics = this.metrics;
    const timed =
      metrics === undefined
        ? run
        : (): Promise<pg.QueryResult> => {
            const started = now();
            return run().then(
              (res) => {
                metrics.answered(now() - started, input.text, pipelined);
                return res;
              },
              (err: unknown) => {
                metrics.failed(now() - started, input.text, pipelined, err);
                throw err;
              },
            );
          };
    if (!postgresQueryChannel.hasSubscribers) return timed();
    const server = this.#server;
    const context: PostgresQueryContext = {
      text: input.text,
      valueCount: input.values?.length ?? 0,
      database: server.database,
      serverAddress: server.serverAddress,
      serverPort: server.serverPort,
      pipelined,
      transaction,
    };
    return traceCall(postgresQueryChannel, context, timed, summarize);
  }

  /** Stops the collection of the metrics (the server closes). Idempotent. */
  close(): void {
    this.metrics?.close();
  }
}

/**
 * {@link QueryTelemetry.observe} when `telemetry` is given and active, else `run()` as it is.
 *
 * @example
 * ```ts
 * return observeStatement(state.telemetry, input, false, true, () => conn.run(input, limits));
 * ```
 */
export function observeStatement(
  telemetry: QueryTelemetry | undefined,
  input: QueryInput,
  pipelined: boolean,
  transaction: boolean,
  run: () => Promise<pg.QueryResult>,
): Promise<pg.QueryResult> {
  return telemetry !== undefined && telemetry.active
    ? telemetry.observe(input, pipelined, transaction, run)
    : run();
}

/** The command tag and row count of the answer (the last one of a multi-statement text), not the rows. */
function summarize(res: pg.QueryResult | pg.QueryResult[], context: PostgresQueryContext): void {
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  context.result = { command: last?.command ?? '', rowCount: last?.rowCount ?? null };
}
