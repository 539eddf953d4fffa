/**
 * One PostgreSQL connection as the adapter keeps it: a `pg.Client` that had its `'error'` listener
 * attached before `connect()` (so a dropped socket never crashes the process) and that remembers
 * why it broke.
 * @module
 */
import pg from 'pg';
import {
  ConnectionError,
  Deadline,
  delay,
  logDebug,
  type Logger,
  Scope,
  TimeoutError,
} from '../../src/internal/index.js';
import { sendCancelRequest } from './cancel.js';
import { isConnectionError, redact } from './errors.js';
import type { TlsPlan } from './tls-mode.js';

/**
 * What {@link connect} needs to open a connection.
 *
 * @example
 * ```ts
 * const settings: ConnectSettings = { config: { connectionString: url }, connectTimeout: 10_000, target: 'db:5432/app', secrets: [] };
 * ```
 */
export interface ConnectSettings {
  config: pg.ClientConfig;
  /** Milliseconds the TCP/TLS connect and the startup handshake may take. */
  connectTimeout: number;
  /** `host:port/database`, for messages. */
  target: string;
  /** Passwords to scrub from messages. */
  secrets: readonly string[];
  /** Called once when the connection breaks (socket error, server terminated it). */
  onBroken?: ((conn: PgConnection, err: Error) => void) | undefined;
  /** Receives warnings that cannot be thrown, and connections opened and closed (debug). */
  logger?: Logger | undefined;
  /** TLS from the URL's `sslmode` (libpq semantics); undefined: `config.ssl` as it is. */
  tls?: TlsPlan | undefined;
}

/**
 * A connected `pg.Client` plus its health. Internal to the adapter.
 *
 * @example
 * ```ts
 * const conn = await connect(settings, signal);
 * await conn.client.query('select 1');
 * await conn.close();
 * ```
 */
export class PgConnection {
  readonly client: pg.Client;
  /** Why the connection is unusable; undefined while healthy. */
  broken: Error | undefined = undefined;
  /** Queries in flight (pipeline mode routes to the least loaded connection). */
  inFlight = 0;
  /** Set while a cancelled statement is still winding down: nothing else may be sent before. */
  busy: Promise<void> | undefined = undefined;
  #closing: Promise<void> | undefined;
  readonly #logger: Logger | undefined;
  readonly #target: string;

  constructor(client: pg.Client, settings?: Pick<ConnectSettings, 'logger' | 'target'>) {
    this.client = client;
    this.#logger = settings?.logger;
    this.#target = settings?.target ?? '';
  }

  /** Backend process id (`pg_backend_pid()`), for cancel requests and tests. */
  get processID(): number {
    return (this.client as unknown as { processID: number }).processID;
  }

  /** Secret key of the backend, for cancel requests. */
  get secretKey(): number {
    return (this.client as unknown as { secretKey: number }).secretKey;
  }

  /** `'I'` idle, `'T'` in a transaction, `'E'` in a failed transaction, null before the first query. */
  get transactionStatus(): string | null {
    return (this.client as unknown as { getTransactionStatus(): string | null }).getTransactionStatus();
  }

  /** Marks the connection unusable (first reason wins). */
  markBroken(err: Error): void {
    this.broken ??= err;
  }

  /** Ends the connection; never rejects, idempotent. A broken or busy socket is destroyed at once. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const internal = this.client as unknown as {
      connection?: { stream?: { destroy(): void } };
      _activeQuery?: unknown;
      pipeline?: boolean;
      host: string;
      port: number;
    };
    const pid = this.processID;
    if (this.broken) internal.connection?.stream?.destroy();
    else if (internal._activeQuery && !internal.pipeline) {
      // pg's end() drops the socket under a running statement, which the server would keep
      // executing: cancel it first (best effort, bounded), so closing never leaves work behind.
      await sendCancelRequest(
        { host: internal.host, port: internal.port, processID: pid, secretKey: this.secretKey },
        2_000,
      ).catch(() => undefined);
    }
    // A peer that stopped answering must not hold close() forever.
    const ended = await Promise.race([
      this.client.end().then(
        () => true,
        () => true,
      ),
      delay(5_000).then(() => false),
    ]);
    if (!ended) internal.connection?.stream?.destroy();
    logDebug(this.#logger, 'connkit/postgres: connection closed', {
      target: this.#target,
      pid,
      reason: this.broken?.message,
    });
  }
}

/**
 * Opens a connection. Rejects with `signal.reason` on abort, `TimeoutError` after `connectTimeout`,
 * and `ConnectionError` (password never in the message) when the server cannot be reached or refuses.
 *
 * @example
 * ```ts
 * const conn = await connect({ config: { connectionString: url }, connectTimeout: 5000, target, secrets: [] });
 * ```
 */
export async function connect(
  settings: ConnectSettings,
  signal?: AbortSignal,
  deadline: Deadline = Deadline.NEVER,
): Promise<PgConnection> {
  signal?.throwIfAborted();
  const plan = settings.tls;
  const within = deadline.atMost(settings.connectTimeout);
  if (plan === undefined) return attempt(settings, settings.config, signal, within);
  const first = { ...settings.config, ssl: await plan.first() };
  try {
    return await attempt(settings, first, signal, within);
  } catch (err) {
    // libpq's allow/prefer: one more try with the other setting, within the same connect timeout.
    const cause = err instanceof ConnectionError ? err.cause : undefined;
    if (plan.fallback === undefined || cause === undefined || !plan.fallback.retry(cause)) throw err;
    logDebug(settings.logger, `connkit/postgres: sslmode=${plan.mode}, retrying with the other TLS setting`, {
      target: settings.target,
    });
    return attempt(settings, { ...settings.config, ssl: await plan.fallback.ssl() }, signal, within);
  }
}

async function attempt(
  settings: ConnectSettings,
  config: pg.ClientConfig,
  signal: AbortSignal | undefined,
  deadline: Deadline,
): Promise<PgConnection> {
  const client = new pg.Client(config);
  const conn = new PgConnection(client, settings);
  // Attached before connect: pg emits 'error' for idle sockets that die, which would otherwise crash.
  client.on('error', (err: Error) => {
    const first = conn.broken === undefined;
    conn.markBroken(err);
    if (first) settings.onBroken?.(conn, err);
  });
  client.on('end', () => {
    if (conn.broken === undefined) {
      conn.markBroken(new ConnectionError('PostgreSQL connection ended'));
    }
  });
  using scope = new Scope({
    signal,
    deadline,
    timeoutMessage: (ms) => `Connecting to PostgreSQL at ${settings.target} timed out after ${ms} ms`,
    onAbort: () => destroy(client),
  });
  try {
    await scope.race(client.connect());
  } catch (err) {
    destroy(client);
    if (scope.aborted) {
      const reason = scope.reason;
      // Made here, after the await, so the stack leads to the caller.
      throw reason instanceof TimeoutError && !signal?.aborted ? new TimeoutError(reason.message) : reason;
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
  logDebug(settings.logger, 'connkit/postgres: connection opened', {
    target: settings.target,
    pid: conn.processID,
    pipeline: config.pipeline === true,
  });
  return conn;
}

function destroy(client: pg.Client): void {
  const internal = client as unknown as { connection?: { _ending?: boolean; stream?: { destroy(): void } } };
  if (internal.connection) internal.connection._ending = true;
  internal.connection?.stream?.destroy();
}
