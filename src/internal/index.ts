/**
 * The seam between connkit's core and its adapters: `adapters/` import the core from here and
 * nowhere else, so each mechanism they share exists once —
 *
 * - time: the one clock ({@link now}), timers that take any duration ({@link startTimer},
 *   {@link startTimerAt}, {@link delay}), a timeout turned into a {@link Deadline} once per call,
 *   and the {@link Scope} that ends a call on abort or deadline;
 * - queues: {@link Fifo} (moving head), {@link DeadlineList} (many deadlines under one timer), waiters;
 * - retries: core's `retry` for loops that end (reconnect until it works or the signal aborts) and
 *   {@link Backoff} for the failure count of loops that keep running;
 * - errors: the core error classes (a closed resource rejects with a {@link ClosedError}),
 *   {@link toError}, and the background-failure convention ({@link reportBackground}) with the
 *   kit's one {@link Logger};
 * - option checks of DESIGN §2;
 * - observability: OpenTelemetry spans and context propagation ({@link inSpan}, {@link startSpan},
 *   {@link injectContext}, {@link extractContext}…), metrics ({@link connkitMeter}, {@link observeBatch}),
 *   the semantic-convention names ({@link ATTR}, {@link METRIC}), and the `diagnostics_channel`
 *   TracingChannels ({@link traceCall}). All of them cost nothing without `@opentelemetry/api`, without
 *   a registered SDK, or without a subscriber.
 * @module
 */
export {
  ClosedError,
  ConnectionError,
  ConnkitError,
  InvalidStateError,
  PoolClosedError,
  TimeoutError,
  type ConnkitErrorOptions,
} from '../errors.js';
export {
  checkDuration,
  checkInteger,
  checkSignal,
  checkWaitOptions,
  describeValue,
  readWaitOptions,
  type SignalOptions,
  type WaitOptions,
} from '../options.js';
export type { Logger } from '../logger.js';
export { Event } from '../event.js';
export { sleep } from '../timeout.js';
export { backoffDelay, retry, type BackoffOptions } from '../retry.js';
export { Pool } from '../pool.js';
export type { Lease } from '../lease.js';
export type { PoolOptions, PoolStats } from '../pool-options.js';
export { Waiter, WaiterQueue, type WaiterHost } from '../waiter.js';
export { unwatchAbort, watchAbort, type AbortWatcher } from './abort-watch.js';
export { Backoff } from './backoff.js';
export { CONNECTION_COUNT_SPEC, CONNECTION_LIMIT_SPEC } from './pool-metrics.js';
export { logDebug, logInfo, reportBackground, type BackgroundSink } from './background.js';
export { startTimeout } from './at-once.js';
export { Deadline } from './deadline.js';
export { DeadlineList, type Expiring } from './deadline-list.js';
export { Fifo } from './fifo.js';
export { Scope, type ScopeOptions } from './scope.js';
export { delay, MAX_TIMEOUT, now, startTimer, startTimerAt } from './timer.js';
export { toError } from './to-error.js';
export {
  amqpProcessChannel,
  amqpPublishChannel,
  poolAcquireChannel,
  postgresQueryChannel,
  traceCall,
  traceSyncCall,
  type AmqpProcessContext,
  type AmqpPublishContext,
  type PoolAcquireContext,
  type PostgresQueryContext,
  type TracedOperation,
} from './channels.js';
export {
  connkitMeter,
  observeBatch,
  type BatchCallback,
  type ConnkitMeter,
  type CounterInstrument,
  type HistogramInstrument,
  type InstrumentSpec,
  type MetricAttributes,
  type ObservableInstrument,
  type ObservationSink,
} from './metrics.js';
export {
  ATTR,
  DB_DURATION_BUCKETS,
  MESSAGING_DURATION_BUCKETS,
  METRIC,
  PIPELINE_DEPTH_BUCKETS,
  VALUE,
} from './semconv.js';
export {
  activeContext,
  amqpHeaderGetter,
  amqpHeaderSetter,
  extractContext,
  injectContext,
  rootContext,
  withContext,
  type HeaderGetter,
  type HeaderSetter,
  type TraceContext,
} from './trace-context.js';
export {
  activeSpan,
  endSpan,
  errorType,
  failSpan,
  inSpan,
  startSpan,
  tracingEnabled,
  type AttributeValue,
  type SpanAttributes,
  type SpanKindName,
  type SpanStart,
  type TracedSpan,
} from './tracing.js';
export { VERSION } from './version.js';
