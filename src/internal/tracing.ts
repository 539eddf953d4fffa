/**
 * Internal: connkit's spans, for the adapters (through the seam). Every helper is a no-op — no span,
 * no context object, no attributes object, nothing loaded — unless `@opentelemetry/api` is installed
 * **and** a tracer provider (an SDK) is registered; that check costs a few property reads, so it is
 * made per operation and an SDK registered after connkit was imported is seen at once.
 *
 * On a hot path, ask {@link tracingEnabled} before building a span's options and closures:
 * `tracingEnabled() ? inSpan(name, { kind, attributes: () => attrs(x) }, () => run(x)) : run(x)` costs
 * ~0.04 µs without an SDK, where the unguarded call costs ~0.3 µs in allocations (`npm run bench -- telemetry`).
 *
 * The types here are connkit's own (structural subsets of the API's), so the declarations users
 * compile against never name `@opentelemetry/api`.
 * @module
 */
import type { Context, Link, Span, SpanKind, SpanOptions, Tracer } from '@opentelemetry/api';
import { describeValue } from '../options.js';
import { connkitTracer, otelApi, type OtelApi } from './otel-api.js';
import type { TraceContext } from './trace-context.js';
import { ATTR } from './semconv.js';

/**
 * A span attribute's value.
 *
 * @example
 * ```ts
 * const v: AttributeValue = 5432;
 * ```
 */
export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];

/**
 * Span attributes; `undefined` values are dropped.
 *
 * @example
 * ```ts
 * const attrs: SpanAttributes = { [ATTR.DB_SYSTEM_NAME]: 'postgresql', [ATTR.SERVER_PORT]: 5432 };
 * ```
 */
export type SpanAttributes = Record<string, AttributeValue | undefined>;

/**
 * The span kinds, by name.
 *
 * @example
 * ```ts
 * startSpan('publish orders', { kind: 'producer' });
 * ```
 */
export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/**
 * The part of an OpenTelemetry `Span` the adapters use.
 *
 * @example
 * ```ts
 * const span: TracedSpan | undefined = startSpan('send orders', { kind: 'producer' });
 * if (span?.isRecording()) span.setAttribute(ATTR.MESSAGING_MESSAGE_ID, id);
 * endSpan(span);
 * ```
 */
export interface TracedSpan {
  /** False for a span the sampler dropped: skip building attributes for it. */
  isRecording(): boolean;
  setAttribute(key: string, value: AttributeValue): unknown;
  setAttributes(attributes: SpanAttributes): unknown;
  addEvent(name: string, attributes?: SpanAttributes): unknown;
  end(): void;
}

/**
 * How {@link startSpan} and {@link inSpan} start a span.
 *
 * @example
 * ```ts
 * const opts: SpanStart = { kind: 'consumer', parent: extractContext(headers), attributes: () => ({ [ATTR.MESSAGING_DESTINATION_NAME]: queue }) };
 * ```
 */
export interface SpanStart {
  kind: SpanKindName;
  /**
   * An object is given to the sampler with the start; a function is called only once the span is
   * known to record (nothing is allocated for a span nobody keeps).
   */
  attributes?: SpanAttributes | (() => SpanAttributes) | undefined;
  /** The parent: a captured or extracted context; `undefined`: the active one; `null`: none (a root). */
  parent?: TraceContext | null | undefined;
  /** Contexts whose spans this span links to (a batch relay links to each message's creation context). */
  links?: readonly (TraceContext | undefined)[] | undefined;
}

const KIND: Record<SpanKindName, SpanKind> = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 };
const ERROR_STATUS = 2; // SpanStatusCode.ERROR

/**
 * True when spans would be recorded: `@opentelemetry/api` is installed and an SDK registered a
 * tracer provider. Cheap; ask per operation, not once.
 *
 * @example
 * ```ts
 * const ctx = tracingEnabled() ? activeContext() : undefined;
 * ```
 */
export function tracingEnabled(): boolean {
  const api = otelApi();
  return api !== undefined && connkitTracer(api) !== undefined;
}

/**
 * The span active in the current context — one of this process or a remote one a consumer extracted —
 * or `undefined` when tracing is off or no valid span is active. Adding attributes to it costs nothing
 * when it does not record: ask `isRecording()` before building them.
 *
 * @example
 * ```ts
 * const span = activeSpan();
 * if (span?.isRecording()) span.setAttribute(ATTR.CONNKIT_INBOX_OUTCOME, VALUE.INBOX_DUPLICATE);
 * ```
 */
export function activeSpan(): TracedSpan | undefined {
  const api = otelApi();
  if (api === undefined || connkitTracer(api) === undefined) return undefined;
  const span = api.trace.getSpan(api.context.active());
  return span !== undefined && api.isSpanContextValid(span.spanContext()) ? span : undefined;
}

/**
 * Starts a span (not made active: see {@link inSpan}), or returns `undefined` when tracing is off.
 * End it with {@link endSpan}.
 *
 * @example
 * ```ts
 * const span = startSpan(`send ${exchange}`, { kind: 'producer', attributes: () => publishAttributes(entry) });
 * entry.onConfirm = (err) => endSpan(span, err ?? undefined);
 * ```
 */
export function startSpan(name: string, opts: SpanStart): TracedSpan | undefined {
  const api = otelApi();
  const tracer = api === undefined ? undefined : connkitTracer(api);
  if (api === undefined || tracer === undefined) return undefined;
  return begin(api, tracer, name, opts, parentOf(api, opts.parent));
}

/**
 * Runs `fn` inside a new span, active for `fn`'s code (and what it awaits), and ends the span when `fn`
 * returns or its promise settles — with the error recorded when it throws or rejects. With tracing off
 * it only calls `fn(undefined)`.
 *
 * @example
 * ```ts
 * return inSpan(`process ${queue}`, { kind: 'consumer', parent: extractContext(raw.properties.headers) },
 *   () => handler(msg, signal));
 * ```
 */
export function inSpan<R>(name: string, opts: SpanStart, fn: (span: TracedSpan | undefined) => R): R {
  const api = otelApi();
  const tracer = api === undefined ? undefined : connkitTracer(api);
  if (api === undefined || tracer === undefined) return fn(undefined);
  const parent = parentOf(api, opts.parent);
  const span = begin(api, tracer, name, opts, parent);
  let result: R;
  try {
    result = api.context.with(api.trace.setSpan(parent, span), fn, undefined, span);
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
  if (!isThenable(result)) {
    span.end();
    return result;
  }
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      endSpan(span, err);
      throw err;
    },
  ) as R;
}

/**
 * Ends a span (nothing when `undefined`); with `error`, the span is marked failed first: status
 * ERROR, `error.type` (the error's `code`, else its name) and the exception recorded.
 *
 * @example
 * ```ts
 * try { await write(); endSpan(span); } catch (err) { endSpan(span, err); throw err; }
 * ```
 */
export function endSpan(span: TracedSpan | undefined, error?: unknown): void {
  if (span === undefined) return;
  if (error !== undefined) failSpan(span, error);
  span.end();
}

/**
 * Marks a span failed without ending it — status ERROR, `error.type`, the exception recorded — for
 * an operation that goes on after the failure (a consume handler threw; the delivery is still to
 * be retried or dead-lettered before the span ends). Nothing when `undefined` or not recording.
 *
 * @example
 * ```ts
 * try { await handler(msg); } catch (err) { failSpan(span, err); await policy.fail(raw, msg, err); }
 * ```
 */
export function failSpan(span: TracedSpan | undefined, error: unknown): void {
  if (span === undefined || !span.isRecording()) return;
  const s = span as Span;
  const message = error instanceof Error ? error.message : describeValue(error);
  s.recordException(error instanceof Error ? error : message);
  s.setStatus({ code: ERROR_STATUS, message });
  s.setAttribute(ATTR.ERROR_TYPE, errorType(error));
}

/**
 * The low-cardinality `error.type` of anything thrown: a string `code` (connkit's, pg's, amqplib's),
 * else the class name, else `_OTHER` — for metric attributes.
 *
 * @example
 * ```ts
 * errorType(new TimeoutError('…')); // 'TIMEOUT'
 * ```
 */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.name : '_OTHER';
}

function parentOf(api: OtelApi, parent: TraceContext | null | undefined): Context {
  if (parent === undefined) return api.context.active();
  return parent === null ? api.ROOT_CONTEXT : (parent as unknown as Context);
}

function begin(api: OtelApi, tracer: Tracer, name: string, opts: SpanStart, parent: Context): Span {
  const attrs = opts.attributes;
  const options: SpanOptions = { kind: KIND[opts.kind] };
  if (attrs !== undefined && typeof attrs !== 'function') options.attributes = attrs;
  if (opts.links !== undefined) options.links = linksOf(api, opts.links);
  const span = tracer.startSpan(name, options, parent);
  if (typeof attrs === 'function' && span.isRecording()) span.setAttributes(attrs());
  return span;
}

function linksOf(api: OtelApi, contexts: readonly (TraceContext | undefined)[]): Link[] {
  const links: Link[] = [];
  for (const ctx of contexts) {
    const sc = ctx === undefined ? undefined : api.trace.getSpanContext(ctx as unknown as Context);
    if (sc !== undefined && api.isSpanContextValid(sc)) links.push({ context: sc });
  }
  return links;
}

function isThenable<R>(value: R): value is R & PromiseLike<Awaited<R>> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
