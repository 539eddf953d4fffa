/**
 * The RPC reply on the wire (DESIGN §6), both ways: {@link sendReply} (the serving side) writes the
 * handler's value encoded as any body, or — when the handler threw — header `x-error` and the body
 * `{ "error": { "name", "message", "code" } }`; {@link readReply} (the calling side) turns a reply
 * back into the value or a `RemoteError`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import { activeContext, describeValue, tracingEnabled } from '../../src/internal/index.js';
import { decodeBody, encodeBody } from './codec.js';
import { RemoteError } from './errors.js';
import { errorText } from './failure-policy.js';
import { traceHeaders } from './trace-headers.js';
import { RPC_ERROR_HEADER, wireTimestamp } from './wire.js';

/**
 * Replies to the request `raw` on `channel` (the channel it came from): `result` when `failed` is
 * false, else the error `err`. A request without `reply_to` gets no reply.
 *
 * @example
 * ```ts
 * sendReply(channel, raw, { total: 3 }, undefined, false);
 * ```
 */
export function sendReply(
  channel: Channel,
  raw: ConsumeMessage,
  result: unknown,
  err: unknown,
  failed: boolean,
): void {
  const replyTo = raw.properties.replyTo as string | undefined;
  if (!replyTo) return;
  const options: Options.Publish = { messageId: randomUUID(), timestamp: wireTimestamp() };
  if (typeof raw.properties.correlationId === 'string') options.correlationId = raw.properties.correlationId;
  let encoded;
  if (!failed) {
    encoded = encodeBody(result === undefined ? null : result);
  } else {
    const { name, message } = errorText(err);
    const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
    options.headers = { [RPC_ERROR_HEADER]: message };
    // A string or a (JSON-representable) number travels; anything else has no portable form.
    const portable = typeof code === 'string' || (typeof code === 'number' && Number.isFinite(code));
    encoded = encodeBody({ error: { name, message, code: portable ? code : undefined } });
  }
  options.contentType = encoded.contentType;
  // Sent from inside the handler's `process` span: the reply carries it to the caller.
  const context = tracingEnabled() ? activeContext() : undefined;
  if (context !== undefined) {
    const headers = traceHeaders(options.headers as Record<string, unknown> | undefined, context);
    if (headers !== undefined) options.headers = headers;
  }
  try {
    channel.publish('', replyTo, encoded.content, options);
  } catch {
    // the request's channel died: the caller times out or fails on its own connection loss
  }
}

/**
 * A reply read: `value` is the decoded body or a `RemoteError`; `isError` tells the caller to
 * reject with `value`. Throws when a declared JSON body does not parse.
 *
 * @example
 * ```ts
 * const { value, isError } = readReply(msg);
 * ```
 */
export function readReply(msg: ConsumeMessage): { value: unknown; isError: boolean } {
  const headers = msg.properties.headers as Record<string, unknown> | undefined;
  const body = decodeBody(msg.content, msg.properties.contentType as string | undefined);
  if (headers?.[RPC_ERROR_HEADER] === undefined) return { value: body, isError: false };
  const e = (body as { error?: { name?: unknown; message?: unknown; code?: unknown } } | null)?.error;
  const message = typeof e?.message === 'string' ? e.message : describeValue(headers[RPC_ERROR_HEADER]);
  const remote = new RemoteError(
    message,
    typeof e?.name === 'string' ? e.name : 'Error',
    typeof e?.code === 'string' || typeof e?.code === 'number' ? e.code : undefined,
  );
  // The remote handler failed: the call rejects with the RemoteError.
  return { value: remote, isError: true };
}
