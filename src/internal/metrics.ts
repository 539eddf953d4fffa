/**
 * Internal: connkit's meter, for the core Pool and the adapters (through the seam).
 *
 * The API has no proxy for meters: a meter asked for before an SDK registers its MeterProvider stays
 * a no-op forever. So a resource asks for the meter when it is made (a Pool, a Database, a Broker),
 * and {@link connkitMeter} answers `undefined` when that meter would be the no-op one — the resource
 * then creates no instrument and measures nothing (no clock read, no callback). Register the SDK
 * before creating connkit's resources.
 *
 * The types are connkit's own structural subsets of the API's, so the declarations users compile
 * against never name `@opentelemetry/api`.
 * @module
 */
import { otelApi } from './otel-api.js';
import { VERSION } from './version.js';

/**
 * Metric attributes.
 *
 * @example
 * ```ts
 * const attrs: MetricAttributes = { 'db.client.connection.pool.name': 'postgres' };
 * ```
 */
export type MetricAttributes = Record<string, string | number | boolean>;

/**
 * How an instrument is described (units are UCUM: `s`, `{connection}`, `{message}`).
 *
 * @example
 * ```ts
 * const spec: InstrumentSpec = { description: 'Time to obtain a connection', unit: 's', advice: { explicitBucketBoundaries: [...DB_DURATION_BUCKETS] } };
 * ```
 */
export interface InstrumentSpec {
  description: string;
  unit: string;
  /** Histograms: the bucket boundaries the conventions advise. */
  advice?: { explicitBucketBoundaries?: number[] } | undefined;
}

/**
 * A counter or up-down counter.
 *
 * @example
 * ```ts
 * sent.add(1, attrs);
 * ```
 */
export interface CounterInstrument {
  add(value: number, attributes?: MetricAttributes): void;
}

/**
 * A histogram.
 *
 * @example
 * ```ts
 * duration.record(seconds, attrs);
 * ```
 */
export interface HistogramInstrument {
  record(value: number, attributes?: MetricAttributes): void;
}

declare const observableBrand: unique symbol;

/**
 * An asynchronous (observable) instrument: its values are read by a callback at collection time.
 *
 * @example
 * ```ts
 * const depth: ObservableInstrument = meter.createObservableGauge('connkit.pipeline.depth', spec);
 * ```
 */
export interface ObservableInstrument {
  readonly [observableBrand]?: true;
}

/**
 * What a batch callback reports into.
 *
 * @example
 * ```ts
 * (result: ObservationSink) => result.observe(pending, stats.pending, attrs)
 * ```
 */
export interface ObservationSink {
  observe(instrument: ObservableInstrument, value: number, attributes?: MetricAttributes): void;
}

/**
 * A collection callback. It may return a promise (a value read with one query): the SDK awaits it,
 * within its collection timeout, before it exports.
 *
 * @example
 * ```ts
 * const cb: BatchCallback = async (sink) => sink.observe(pending, await countRows(), attrs);
 * ```
 */
export type BatchCallback = (sink: ObservationSink) => void | Promise<void>;

/**
 * The meter's instrument factories connkit uses.
 *
 * @example
 * ```ts
 * const meter = connkitMeter();
 * const sent = meter?.createCounter(METRIC.MESSAGING_SENT_MESSAGES, { description: 'Messages sent', unit: '{message}' });
 * ```
 */
export interface ConnkitMeter {
  createCounter(name: string, spec: InstrumentSpec): CounterInstrument;
  createUpDownCounter(name: string, spec: InstrumentSpec): CounterInstrument;
  createHistogram(name: string, spec: InstrumentSpec): HistogramInstrument;
  createObservableCounter(name: string, spec: InstrumentSpec): ObservableInstrument;
  createObservableUpDownCounter(name: string, spec: InstrumentSpec): ObservableInstrument;
  createObservableGauge(name: string, spec: InstrumentSpec): ObservableInstrument;
  addBatchObservableCallback(callback: BatchCallback, observables: ObservableInstrument[]): void;
  removeBatchObservableCallback(callback: BatchCallback, observables: ObservableInstrument[]): void;
}

/**
 * connkit's meter (`connkit`, with the package version) from the registered MeterProvider, or
 * `undefined` when `@opentelemetry/api` is not installed or no MeterProvider is registered.
 *
 * @example
 * ```ts
 * const meter = connkitMeter();
 * if (meter !== undefined) this.#metrics = new BrokerMetrics(meter, attrs);
 * ```
 */
export function connkitMeter(): ConnkitMeter | undefined {
  const api = otelApi();
  if (api === undefined) return undefined;
  const meter = api.metrics.getMeter('connkit', VERSION);
  return meter === api.createNoopMeter() ? undefined : (meter as unknown as ConnkitMeter);
}

/**
 * Registers `callback` to report `observables` at each collection; the function returned removes it
 * (call it when the resource closes, or the meter keeps the resource alive and reporting). Idempotent.
 *
 * @example
 * ```ts
 * const stop = observeBatch(meter, [count, pending], (sink) => sink.observe(pending, pool.stats().pending, attrs));
 * await pool.close(); stop();
 * ```
 */
export function observeBatch(
  meter: ConnkitMeter,
  observables: ObservableInstrument[],
  callback: BatchCallback,
): () => void {
  meter.addBatchObservableCallback(callback, observables);
  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    meter.removeBatchObservableCallback(callback, observables);
  };
}
