/**
 * Records a `diagnostics_channel` TracingChannel's events for a test: every `start`, `end`,
 * `asyncStart`, `asyncEnd` and `error`, in order, with the operation's context — a copy as it was at
 * that event (the default), or the context object itself (`copy: false`, to check it is one object
 * per operation).
 *
 * @example
 * ```ts
 * const { events, stop } = recordChannel('connkit:amqp:publish');
 * await broker.sendToQueue(q, 'x');
 * stop();
 * expect(events.map(([name]) => name)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
 * ```
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** One event: its name and the operation's context. */
export type ChannelEvent<C = Record<string, unknown>> = [string, C];

export function recordChannel<C extends object = Record<string, unknown>>(
  name: string,
  opts: { copy?: boolean } = {},
): { events: ChannelEvent<C>[]; stop: () => void } {
  const events: ChannelEvent<C>[] = [];
  const ch = diagnosticsChannel.tracingChannel(name);
  const copy = opts.copy ?? true;
  const on = (event: string) => (ctx: unknown) => events.push([event, (copy ? { ...(ctx as C) } : ctx) as C]);
  const handlers = {
    start: on('start'),
    end: on('end'),
    asyncStart: on('asyncStart'),
    asyncEnd: on('asyncEnd'),
    error: on('error'),
  };
  ch.subscribe(handlers);
  return { events, stop: () => void ch.unsubscribe(handlers) };
}
