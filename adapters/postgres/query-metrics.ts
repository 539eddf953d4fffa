/**
 * {@link QueryMetrics}: one server's statement metrics — `db.client.operation.duration` (the
 * conventions' stable histogram), the pipeline depth, the cancellations, and its pipelined
 * connections as a pool of their own. Made once per server when a MeterProvider is registered
 * (`connkitMeter()`); without one there is no `QueryMetrics` and nothing below runs.
 * @module
 */
import {
  ATTR,
  CONNECTION_COUNT_SPEC,
  CONNECTION_LIMIT_SPEC,
  connkitMeter,
  type CounterInstrument,
  DB_DURATION_BUCKETS,
  errorType,
  type HistogramInstrument,
  METRIC,
  type MetricAttributes,
  observeBatch,
  PIPELINE_DEPTH_BUCKETS,
  VALUE,
} from '../../src/internal/index.js';
import { DatabaseError } from './errors.js';
import { operationName } from './operation-name.js';

/**
 * Which server a statement ran on, as the conventions name it.
 *
 * @example
 * ```ts
 * const server: ServerIdentity = { database: 'shop', serverAddress: 'db1', serverPort: 5432 };
 * ```
 */
export interface ServerIdentity {
  readonly database: string | undefined;
  /** Undefined for a multi-host URL: the host varies from connection to connection. */
  readonly serverAddress: string | undefined;
  readonly serverPort: number | undefined;
}

/**
 * The pipelined connections of a server, read when the SDK collects.
 *
 * @example
 * ```ts
 * const source: PipelineSource = { limit: 2, states: () => group.connectionStates() };
 * ```
 */
export interface PipelineSource {
  /** Pipelined connections allowed (`pipeline.connections`). */
  readonly limit: number;
  /** Open pipelined connections with statements in flight (`used`) and without (`idle`). */
  states(): { idle: number; used: number };
}

/**
 * The statement instruments of one server.
 *
 * @example
 * ```ts
 * const metrics = QueryMetrics.open(server, 'postgres://db1:5432/shop', pipelineSource); // undefined without an SDK
 * metrics?.answered(12.5, 'select 1', true);
 * ```
 */
export class QueryMetrics {
  readonly #duration: HistogramInstrument;
  readonly #depth: HistogramInstrument;
  readonly #cancellations: CounterInstrument;
  /** `db.system.name`, `db.namespace`, `server.*`: on every point. */
  readonly #base: MetricAttributes;
  /** The attributes of a successful statement, by operation and route (made once each). */
  readonly #answered = new Map<string, MetricAttributes>();
  readonly #sent: MetricAttributes;
  readonly #resent: MetricAttributes;
  readonly #stop: () => void;

  /** The server's metrics, or `undefined` when no MeterProvider is registered. */
  static open(
    server: ServerIdentity,
    poolName: string,
    pipeline: PipelineSource | undefined,
  ): QueryMetrics | undefined {
    return connkitMeter() === undefined ? undefined : new QueryMetrics(server, poolName, pipeline);
  }

  private constructor(server: ServerIdentity, poolName: string, pipeline: PipelineSource | undefined) {
    const meter = connkitMeter()!;
    const base: MetricAttributes = { [ATTR.DB_SYSTEM_NAME]: VALUE.DB_SYSTEM_POSTGRESQL };
    if (server.database !== undefined) base[ATTR.DB_NAMESPACE] = server.database;
    if (server.serverAddress !== undefined) base[ATTR.SERVER_ADDRESS] = server.serverAddress;
    if (server.serverPort !== undefined) base[ATTR.SERVER_PORT] = server.serverPort;
    this.#base = base;
    this.#sent = { ...base, [ATTR.CONNKIT_CANCEL_OUTCOME]: VALUE.CANCEL_SENT };
    this.#resent = { ...base, [ATTR.CONNKIT_CANCEL_OUTCOME]: VALUE.CANCEL_RESENT };
    this.#duration = meter.createHistogram(METRIC.DB_OPERATION_DURATION, {
      description: 'Duration of a statement, from the call to its result',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DB_DURATION_BUCKETS] },
    });
    // A histogram sampled as each statement is written, rather than an observable gauge of what is in
    // flight: the depth a statement finds is what it waits behind (its latency), and a gauge read once
    // per collection interval (a minute, typically) almost always finds a bursty pipeline empty.
    this.#depth = meter.createHistogram(METRIC.POSTGRES_PIPELINE_DEPTH, {
      description: 'Statements in flight on a pipelined connection when one is written, itself included',
      unit: '{statement}',
      advice: { explicitBucketBoundaries: [...PIPELINE_DEPTH_BUCKETS] },
    });
    this.#cancellations = meter.createCounter(METRIC.POSTGRES_CANCELLATIONS, {
      description:
        'Cancels sent to the server (outcome sent), and statements one of them hit that were run again on a dedicated connection (outcome resent)',
      unit: '{cancellation}',
    });
    this.#stop = pipeline === undefined ? noop : reportPipeline(meter, `${poolName} (pipelined)`, pipeline);
  }

  /** A statement succeeded after `ms` milliseconds. */
  answered(ms: number, text: string, pipelined: boolean): void {
    const op = operationName(text) ?? '';
    const key = pipelined ? `p${op}` : `d${op}`;
    let attrs = this.#answered.get(key);
    if (attrs === undefined) {
      attrs = this.#attributes(op, pipelined);
      if (this.#answered.size < 256) this.#answered.set(key, attrs);
    }
    this.#duration.record(ms / 1000, attrs);
  }

  /** A statement failed with `err` after `ms` milliseconds. */
  failed(ms: number, text: string, pipelined: boolean, err: unknown): void {
    const attrs = this.#attributes(operationName(text) ?? '', pipelined);
    attrs[ATTR.ERROR_TYPE] = errorType(err);
    if (err instanceof DatabaseError) attrs[ATTR.DB_RESPONSE_STATUS_CODE] = err.code;
    this.#duration.record(ms / 1000, attrs);
  }

  /** A statement was written to a pipelined connection that now has `inFlight` in flight. */
  depth(inFlight: number): void {
    this.#depth.record(inFlight, this.#base);
  }

  /** A cancel reached the server. */
  cancelSent(): void {
    this.#cancellations.add(1, this.#sent);
  }

  /** A statement a cancel of ours hit is run again on a dedicated connection. */
  resent(): void {
    this.#cancellations.add(1, this.#resent);
  }

  /** Stops reporting the pipelined connections (the server closes). Idempotent. */
  close(): void {
    this.#stop();
  }

  #attributes(op: string, pipelined: boolean): MetricAttributes {
    const attrs: MetricAttributes = { ...this.#base, [ATTR.CONNKIT_PIPELINED]: pipelined };
    if (op !== '') attrs[ATTR.DB_OPERATION_NAME] = op;
    return attrs;
  }
}

/**
 * The pipelined connections are no `Pool`'s: reported as a pool of their own (`<pool> (pipelined)`),
 * `used` while statements are in flight on them, with `pipeline.connections` as the limit, so that the
 * connections a server holds add up across the two pools.
 */
function reportPipeline(
  meter: NonNullable<ReturnType<typeof connkitMeter>>,
  name: string,
  source: PipelineSource,
): () => void {
  const attrs = { [ATTR.DB_CONNECTION_POOL_NAME]: name };
  const idle = { ...attrs, [ATTR.DB_CONNECTION_STATE]: VALUE.CONNECTION_IDLE };
  const used = { ...attrs, [ATTR.DB_CONNECTION_STATE]: VALUE.CONNECTION_USED };
  const count = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_COUNT, CONNECTION_COUNT_SPEC);
  const limit = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_LIMIT, CONNECTION_LIMIT_SPEC);
  return observeBatch(meter, [count, limit], (sink) => {
    const states = source.states();
    sink.observe(count, states.idle, idle);
    sink.observe(count, states.used, used);
    sink.observe(limit, source.limit, attrs);
  });
}

function noop(): void {}
