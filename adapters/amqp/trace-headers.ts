/**
 * {@link traceHeaders}: the W3C `traceparent`/`tracestate` headers every publish carries (DESIGN §11),
 * made from the context captured when the caller published — so a consumer's `process` span joins
 * the caller's trace however late the message is written (behind the confirm window, after a
 * reconnect).
 * @module
 */
import { amqpHeaderGetter, injectContext, type TraceContext } from '../../src/internal/index.js';

/**
 * `headers` plus the trace headers of `ctx`, as a new object (the caller's object is never
 * written to) — or `headers` itself when they already carry a `traceparent` (the caller's own
 * propagation wins, e.g. a relay that forwards a message's original context).
 *
 * @example
 * ```ts
 * const ctx = tracingEnabled() ? activeContext() : undefined;
 * if (ctx !== undefined) properties.headers = traceHeaders(properties.headers, ctx);
 * ```
 */
export function traceHeaders(
  headers: Record<string, unknown> | undefined,
  ctx: TraceContext,
): Record<string, unknown> | undefined {
  if (headers !== undefined && amqpHeaderGetter.get(headers, 'traceparent') !== undefined) return headers;
  const out = injectContext({ ...headers }, ctx);
  // Nothing to propagate (no active span): keep the message as it was.
  return out['traceparent'] === undefined ? headers : out;
}
