/**
 * An OpenTelemetry SDK for tests, registered on the API's globals the way an application's setup
 * does it: a tracer provider with an in-memory exporter, the AsyncLocalStorage context manager and
 * the W3C propagator; a meter provider read on demand. Each `install…` returns its `uninstall`, which
 * resets the globals so the next test starts from "no SDK".
 */
import { context, metrics, propagation, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';

export interface TestTracing {
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
  uninstall(): Promise<void>;
}

/** Registers a tracer provider (every span kept in `exporter`), the context manager and the W3C propagator. */
export function installTracing(opts: { sampler?: Sampler } = {}): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    ...(opts.sampler ? { sampler: opts.sampler } : {}),
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    exporter,
    provider,
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/**
 * A metric reader that only collects when asked (tests read it; the telemetry bench never does, so
 * the SDK aggregates every measurement as it does between exports).
 *
 * @example
 * ```ts
 * const reader = new OnDemandReader();
 * const provider = new MeterProvider({ readers: [reader] });
 * ```
 */
export class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** One data point of a collection, flattened. */
export interface Point {
  metric: string;
  unit: string;
  attributes: Attributes;
  /** A number for sums and gauges; the count and sum for histograms. */
  value: number | { count: number; sum: number | undefined };
}

export interface TestMetrics {
  /** Collects now: every data point of every connkit instrument. */
  collect(): Promise<Point[]>;
  uninstall(): Promise<void>;
}

/** Registers a meter provider read by {@link TestMetrics.collect}. */
export function installMetrics(): TestMetrics {
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  return {
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
      const points: Point[] = [];
      for (const scope of resourceMetrics.scopeMetrics) {
        if (scope.scope.name !== 'connkit') continue;
        for (const metric of scope.metrics) {
          for (const dp of metric.dataPoints as DataPoint<number | Histogram>[]) {
            const v = dp.value;
            points.push({
              metric: metric.descriptor.name,
              unit: metric.descriptor.unit,
              attributes: dp.attributes,
              value: typeof v === 'number' ? v : { count: v.count, sum: v.sum },
            });
          }
        }
      }
      return points;
    },
    async uninstall() {
      await provider.shutdown();
      metrics.disable();
    },
  };
}

/** The value of `metric` whose attributes include `attrs`, or undefined when there is none. */
export function pointOf(points: Point[], metric: string, attrs: Attributes): Point['value'] | undefined {
  return points.find(
    (p) => p.metric === metric && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
  )?.value;
}
