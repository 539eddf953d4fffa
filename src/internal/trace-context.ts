/**
 * Internal: trace context for the adapters (through the seam) — captured and restored across
 * callbacks ({@link activeContext}, {@link withContext}), and carried in message headers as W3C
 * `traceparent`/`tracestate` ({@link injectContext}, {@link extractContext}). No-ops unless
 * `@opentelemetry/api` is installed and an SDK registered a tracer provider.
 * @module
 */
import type { Context } from '@opentelemetry/api';
import { connkitTracer, otelApi } from './otel-api.js';

declare const contextBrand: unique symbol;

/**
 * An OpenTelemetry context (the active span, baggage…), opaque to the adapters: capture it with
 * {@link activeContext} or {@link extractContext}, hand it back to {@link withContext}, {@link startSpan}
 * (`parent`, `links`) or {@link injectContext}.
 *
 * @example
 * ```ts
 * const ctx: TraceContext | undefined = activeContext(); // undefined when tracing is off
 * ```
 */
export interface TraceContext {
  readonly [contextBrand]: true;
}

/**
 * Reads a trace header from a carrier (AMQP headers, an outbox row's stored headers).
 *
 * @example
 * ```ts
 * amqpHeaderGetter.get({ traceparent: '00-…-01' }, 'traceparent'); // '00-…-01'
 * ```
 */
export interface HeaderGetter {
  keys(carrier: Readonly<Record<string, unknown>>): string[];
  get(carrier: Readonly<Record<string, unknown>>, key: string): string | undefined;
}

/**
 * Writes a trace header into a carrier.
 *
 * @example
 * ```ts
 * amqpHeaderSetter.set(headers, 'traceparent', value);
 * ```
 */
export interface HeaderSetter {
  set(carrier: Record<string, unknown>, key: string, value: string): void;
}

/**
 * The active context, to hand to {@link withContext} later (work queued now and written from another
 * callback), or `undefined` when tracing is off.
 *
 * @example
 * ```ts
 * entry.context = activeContext(); // in publish(), the caller's context
 * withContext(entry.context, () => channel.publish(…)); // later, from the drain callback
 * ```
 */
export function activeContext(): TraceContext | undefined {
  const api = otelApi();
  if (api === undefined || connkitTracer(api) === undefined) return undefined;
  return api.context.active() as unknown as TraceContext;
}

/**
 * The root context (no span, no baggage), for background work that must not inherit the context of
 * whoever started it — `undefined` when tracing is off. Give it to {@link withContext}.
 *
 * @example
 * ```ts
 * this.#done = withContext(rootContext(), () => this.#loop()); // a relay started inside a request's span
 * ```
 */
export function rootContext(): TraceContext | undefined {
  const api = otelApi();
  if (api === undefined || connkitTracer(api) === undefined) return undefined;
  return api.ROOT_CONTEXT as unknown as TraceContext;
}

/**
 * Runs `fn` with `ctx` active (`fn()` alone when `ctx` is `undefined`).
 *
 * @example
 * ```ts
 * withContext(delivery.context, () => this.#run(delivery));
 * ```
 */
export function withContext<R>(ctx: TraceContext | undefined, fn: () => R): R {
  if (ctx === undefined) return fn();
  const api = otelApi();
  return api === undefined ? fn() : api.context.with(ctx as unknown as Context, fn);
}

/**
 * Writes `ctx` (default: the active context) into `carrier` with the registered propagator — W3C
 * `traceparent`/`tracestate` with the SDK's default — and returns `carrier`. Nothing when tracing is
 * off.
 *
 * @example
 * ```ts
 * const headers = injectContext({ ...opts.headers }); // publish
 * const stored = injectContext({}); // outbox.enqueue: kept with the row
 * ```
 */
export function injectContext<C extends Record<string, unknown>>(carrier: C, ctx?: TraceContext): C {
  const api = otelApi();
  if (api === undefined || connkitTracer(api) === undefined) return carrier;
  const from = ctx === undefined ? api.context.active() : (ctx as unknown as Context);
  api.propagation.inject(from, carrier, amqpHeaderSetter);
  return carrier;
}

/**
 * The context a producer injected into `carrier` (the root context plus its remote span), or
 * `undefined` when tracing is off or there is no carrier. Give it as `parent` or in `links`.
 *
 * @example
 * ```ts
 * const parent = extractContext(raw.properties.headers);
 * ```
 */
export function extractContext(
  carrier: Readonly<Record<string, unknown>> | undefined,
): TraceContext | undefined {
  if (carrier === undefined || carrier === null) return undefined;
  const api = otelApi();
  if (api === undefined || connkitTracer(api) === undefined) return undefined;
  return api.propagation.extract(api.ROOT_CONTEXT, carrier, amqpHeaderGetter) as unknown as TraceContext;
}

/**
 * Reads trace headers from AMQP headers as other clients send them: a string, or bytes (a field
 * table's byte array), matching the name exactly first, then ignoring case.
 *
 * @example
 * ```ts
 * api.propagation.extract(ROOT_CONTEXT, msg.properties.headers, amqpHeaderGetter);
 * ```
 */
export const amqpHeaderGetter: HeaderGetter = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    let value = carrier[key];
    if (value === undefined) {
      for (const k of Object.keys(carrier)) {
        if (k.toLowerCase() === key) {
          value = carrier[k];
          break;
        }
      }
    }
    if (typeof value === 'string') return value;
    if (value instanceof Uint8Array)
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString();
    return undefined;
  },
};

/**
 * Writes trace headers as AMQP string headers.
 *
 * @example
 * ```ts
 * api.propagation.inject(context.active(), headers, amqpHeaderSetter);
 * ```
 */
export const amqpHeaderSetter: HeaderSetter = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};
