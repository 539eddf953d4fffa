/**
 * Opening a `pg.Client`: the connect timeout and the caller's abort (both through one Scope), TLS
 * as the URL's `sslmode` plans it (with libpq's second attempt for `allow`/`prefer`), and errors
 * that name the server but never the password.
 * @module
 */
import pg from 'pg';
import { ConnectionError, logDebug, type Logger, Scope, TimeoutError } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import { withDateParsers } from './date-parsers.js';
import { ConnectTimeoutError, isConnectionError, redact } from './errors.js';
import { destroySocket } from './pg-internals.js';
import type { HostEndpoint, TargetSessionAttrs } from './target-session.js';
import type { TlsPlan } from './tls-mode.js';

/**
 * What opening a client needs.
 *
 * @example
 * ```ts
 * const settings: ClientSettings = { config: { connectionString: url }, connectTimeout: 10_000, target: 'db:5432/app', secrets: [] };
 * ```
 */
export interface ClientSettings {
  config: pg.ClientConfig;
  /** Milliseconds the TCP/TLS connect and the startup handshake may take (any duration, or Infinity). */
  connectTimeout: number;
  /** `host:port/database`, for messages. */
  target: string;
  /** Passwords to scrub from messages. */
  secrets: readonly string[];
  /** Receives warnings that cannot be thrown, and connections opened and closed (debug). */
  logger?: Logger | undefined;
  /** TLS from the URL's `sslmode` (libpq semantics); undefined: `config.ssl` as it is. */
  tls?: TlsPlan | undefined;
  /** The hosts of a multi-host URL, tried in order (each merged over `config`); undefined: `config` alone. */
  hosts?: readonly HostEndpoint[] | undefined;
  /** libpq's `target_session_attrs`: which of the `hosts` a connection may land on. @default 'any' */
  sessionAttrs?: TargetSessionAttrs | undefined;
}

/**
 * The settings that reach one `host` of a multi-host address: its own connection string over the
 * server's config, its own name in messages.
 *
 * @example
 * ```ts
 * await openClient(onHost(settings, host), limits, adopt);
 * ```
 */
export function onHost<S extends ClientSettings>(settings: S, host: HostEndpoint): S {
  if (Object.keys(host.config).length === 0) return settings;
  return { ...settings, config: { ...settings.config, ...host.config }, target: host.target };
}

/**
 * Creates and connects a client within `limits` and `connectTimeout`. `adopt(client)` is called
 * with each new client before it connects, so its owner attaches its `'error'` listener from birth.
 * Rejects with `signal.reason` on abort, `TimeoutError` at the deadline, `ConnectionError` when the
 * server cannot be reached or refuses (password scrubbed).
 *
 * @example
 * ```ts
 * const client = await openClient(settings, NO_LIMITS, (c) => c.on('error', onError));
 * ```
 */
export async function openClient(
  settings: ClientSettings,
  limits: CallLimits,
  adopt: (client: pg.Client) => void,
): Promise<pg.Client> {
  limits.signal?.throwIfAborted();
  const within = { signal: limits.signal, deadline: limits.deadline.atMost(settings.connectTimeout) };
  const plan = settings.tls;
  if (plan === undefined) return attempt(settings, settings.config, within, adopt);
  try {
    return await attempt(settings, { ...settings.config, ssl: await plan.first() }, within, adopt);
  } catch (err) {
    // libpq's allow/prefer: one more try with the other setting, within the same connect timeout.
    const cause = err instanceof ConnectionError ? err.cause : undefined;
    if (plan.fallback === undefined || cause === undefined || !plan.fallback.retry(cause)) throw err;
    logDebug(settings.logger, `connkit/postgres: sslmode=${plan.mode}, trying the other TLS setting`, {
      target: settings.target,
    });
    return attempt(settings, { ...settings.config, ssl: await plan.fallback.ssl() }, within, adopt);
  }
}

async function attempt(
  settings: ClientSettings,
  config: pg.ClientConfig,
  limits: CallLimits,
  adopt: (client: pg.Client) => void,
): Promise<pg.Client> {
  // Faster date/timestamp parsing while pg's defaults are in place (date-parsers.ts).
  const client = new pg.Client(withDateParsers(config));
  adopt(client);
  using scope = new Scope({
    signal: limits.signal,
    deadline: limits.deadline,
    timeoutMessage: (ms) => `Connecting to PostgreSQL at ${settings.target} timed out after ${ms} ms`,
    onAbort: () => destroySocket(client, { quiet: true }),
  });
  try {
    await scope.race(client.connect());
    return client;
  } catch (err) {
    destroySocket(client, { quiet: true });
    if (scope.aborted) {
      const reason = scope.reason;
      // Made again here, after the await, so its stack leads to the caller rather than to a timer.
      throw reason instanceof TimeoutError && !limits.signal?.aborted
        ? new ConnectTimeoutError(reason.message)
        : reason;
    }
    const message = err instanceof Error ? err.message : String(err);
    const kind = isConnectionError(err) ? 'Cannot connect to' : 'Connection refused by';
    throw new ConnectionError(
      `${kind} PostgreSQL at ${settings.target}: ${redact(message, settings.secrets)}`,
      {
        cause: err,
      },
    );
  }
}
