/**
 * Trace context through the outbox: `enqueue` stores the W3C `traceparent`/`tracestate` of a
 * `create` span with the row ({@link traceEnqueue}); the relay, later and from another context,
 * publishes the row inside a `send` span whose parent is that stored context ({@link sendTraced}),
 * so the consumer's `process` span joins the producer's trace.
 *
 * The span structure, against the messaging conventions (semantic-conventions 1.45, "Producer
 * spans"): a `create` span (producer kind, one message, ended at once) gives each message its own
 * creation context — the conventions' answer for messages published later or in batches. The relay
 * does not use a batch API: every row is its own `broker.publish` with its own confirm, so each row
 * gets its own `send` span (producer kind, from the publish to the confirm) rather than one batch span
 * linking N creation contexts. That span's parent is the row's creation context (a parent implies the
 * link the conventions ask for), and it is the context that travels in the message: the conventions
 * inject the `create` context itself, but then the consumer's `process` span would hang beside the
 * relay's hop instead of under it, and the trace would not show which publish delivered the message
 * (a row retried after a failed confirm is sent twice). `create` stays the ancestor of everything the
 * consumer does, so the trace is the same one either way.
 * @module
 */
import {
  activeSpan,
  ATTR,
  extractContext,
  inSpan,
  injectContext,
  tracingEnabled,
  VALUE,
  type SpanAttributes,
} from '../../src/internal/index.js';

/**
 * The W3C trace headers kept with an outbox row.
 *
 * @example
 * ```ts
 * const stored: StoredTrace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: null };
 * ```
 */
export interface StoredTrace {
  traceparent: string;
  tracestate: string | null;
}

/**
 * What a span of the outbox says about its message (names only: never the body).
 *
 * @example
 * ```ts
 * const about: MessageAbout = { exchange: 'orders', routingKey: 'order.created', messageId: id, bodySize: 42 };
 * ```
 */
export interface MessageAbout {
  exchange: string;
  routingKey: string;
  messageId: string;
  bodySize: number;
}

/**
 * The span name's destination: the exchange, or `amq.default` (RabbitMQ's name for the default
 * exchange `''`, which routes by queue name).
 */
function destination(exchange: string): string {
  return exchange === '' ? 'amq.default' : exchange;
}

function attributes(about: MessageAbout, operation: string): SpanAttributes {
  return {
    [ATTR.MESSAGING_SYSTEM]: VALUE.MESSAGING_RABBITMQ,
    [ATTR.MESSAGING_OPERATION_TYPE]: operation,
    [ATTR.MESSAGING_OPERATION_NAME]: operation,
    [ATTR.MESSAGING_DESTINATION_NAME]: about.exchange,
    [ATTR.MESSAGING_RABBITMQ_ROUTING_KEY]: about.routingKey,
    [ATTR.MESSAGING_MESSAGE_ID]: about.messageId,
    [ATTR.MESSAGING_MESSAGE_BODY_SIZE]: about.bodySize,
  };
}

/**
 * In `outbox.enqueue`: when tracing is on and a span is active, makes the message's `create` span
 * (a child of the active span, ended at once) and returns its context as W3C headers, to store with
 * the row. `undefined` — nothing made, nothing stored — without an SDK or without an active span (a
 * message enqueued outside any trace does not start one).
 *
 * @example
 * ```ts
 * const stored = traceEnqueue({ exchange, routingKey, messageId, bodySize: content.length });
 * insert(…, stored?.traceparent ?? null, stored?.tracestate ?? null);
 * ```
 */
export function traceEnqueue(about: MessageAbout): StoredTrace | undefined {
  if (!tracingEnabled() || activeSpan() === undefined) return undefined;
  const carrier = inSpan(
    `${VALUE.OP_CREATE} ${destination(about.exchange)}`,
    { kind: 'producer', attributes: () => attributes(about, VALUE.OP_CREATE) },
    () => injectContext<Record<string, unknown>>({}),
  );
  const { traceparent, tracestate } = carrier;
  if (typeof traceparent !== 'string') return undefined; // a propagator that is not W3C's
  return { traceparent, tracestate: typeof tracestate === 'string' ? tracestate : null };
}

/**
 * In the relay: publishes a row that has a stored context. With tracing on, `publish` runs inside a
 * `send` span (producer kind; parent: the stored context) that ends at the broker's confirm, and the
 * headers it is given carry that span's context; without, they carry the stored context unchanged, so
 * a relay process without an SDK still lets the consumer join the producer's trace.
 *
 * @example
 * ```ts
 * const confirm = row.traceparent === null ? publish(row.headers) : sendTraced(stored, about, row.headers, publish);
 * ```
 */
export function sendTraced<R>(
  stored: StoredTrace,
  about: MessageAbout,
  headers: Record<string, unknown> | null,
  publish: (headers: Record<string, unknown>) => Promise<R>,
): Promise<R> {
  const carrier: Record<string, unknown> = { traceparent: stored.traceparent };
  if (stored.tracestate !== null) carrier['tracestate'] = stored.tracestate;
  if (!tracingEnabled()) return publish({ ...headers, ...carrier });
  return inSpan(
    `${VALUE.OP_SEND} ${destination(about.exchange)}`,
    { kind: 'producer', parent: extractContext(carrier), attributes: () => attributes(about, VALUE.OP_SEND) },
    // The send span is active here: its context is what the message carries.
    () => publish(injectContext({ ...headers })),
  );
}
