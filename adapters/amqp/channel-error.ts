/**
 * {@link culpritError}: which publish in flight caused the confirm channel's death. A channel-level
 * error (a missing exchange, a message over the size limit) fails the publish that caused it — the
 * others in flight are re-published — instead of re-sending it, and closing the channel, forever.
 * @module
 */
import { ConnkitError } from '../../src/internal/index.js';
import type { PublishEntry } from './publish-entry.js';

/** AMQP reply codes of errors that close a channel (not the connection). */
const CHANNEL_LEVEL = [403, 404, 405, 406];

function codeOf(err: Error): number {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : 0;
}

/**
 * The error to fail `entry` with when it caused the channel error `error` (a `CHANNEL_ERROR`), or
 * `undefined` when it is re-published. An unknown cause counts against each entry in flight: after
 * its third channel death it is taken for the culprit.
 *
 * @example
 * ```ts
 * const failure = culpritError(entry, channelError);
 * if (failure) settle(entry, failure);
 * ```
 */
export function culpritError(entry: PublishEntry, error: Error | undefined): ConnkitError | undefined {
  if (error === undefined || !CHANNEL_LEVEL.includes(codeOf(error))) return undefined;
  const noExchange = /no exchange '(.*)' in vhost/.exec(error.message);
  const tooBig = /message size \d+ is larger than configured max size (\d+)/.exec(error.message);
  const culprit = noExchange
    ? entry.exchange === noExchange[1]
    : tooBig
      ? entry.content.length > Number(tooBig[1])
      : ++entry.failures >= 3;
  return culprit
    ? new ConnkitError(`Publish failed: ${error.message}`, 'CHANNEL_ERROR', { cause: error })
    : undefined;
}
