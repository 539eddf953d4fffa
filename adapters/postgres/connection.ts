/**
 * One PostgreSQL connection as the adapter keeps it: a `pg.Client` that had its `'error'` listener
 * attached before `connect()` (so a dropped socket never crashes the process) and that remembers
 * why it broke.
 * @module
 */
import pg from 'pg';
import { ConnectionError, type Logger, TimeoutError } from '../../src/internal/index.js';
import { sendCancelRequest } from './cancel.js';
import { isConnectionError, redact } from './errors.js';

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
  /** Receives warnings that cannot be thrown. */
  logger?: Logger | undefined;
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

  constructor(client: pg.Client) {
    this.client = client;
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
    this.#closing ??= (async () => {
      const internal = this.client as unknown as {
        connection?: { stream?: { destroy(): void } };
        _activeQuery?: unknown;
        pipeline?: boolean;
        host: string;
        port: number;
      };
      if (this.broken) internal.connection?.stream?.destroy();
      else if (internal._activeQuery && !internal.pipeline) {
        // pg's end() drops the socket under a running statement, which the server would keep
        // executing: cancel it first (best effort, bounded), so closing never leaves work behind.
        await sendCancelRequest(
          { host: internal.host, port: internal.port, processID: this.processID, secretKey: this.secretKey },
          2_000,
        ).catch(() => undefined);
      }
      await Promise.race([
        this.client.end().catch(() => undefined),
        // A peer that stopped answering must not hold close() forever.
        new Promise<void>((resolve) =>
          setTimeout(() => {
            internal.connection?.stream?.destroy();
            resolve();
          }, 5_000).unref(),
        ),
      ]);
    })();
    return this.#closing;
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
export async function connect(settings: ConnectSettings, signal?: AbortSignal): Promise<PgConnection> {
  signal?.throwIfAborted();
  const client = new pg.Client(settings.config);
  const conn = new PgConnection(client);
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
  let failure: unknown;
  const onAbort = (): void => {
    failure = signal?.reason;
    destroy(client);
  };
  signal?.addEventListener('abort', onAbort);
  const timer =
    settings.connectTimeout === Infinity
      ? undefined
      : setTimeout(() => {
          failure = new TimeoutError(
            `Connecting to PostgreSQL at ${settings.target} timed out after ${settings.connectTimeout} ms`,
          );
          destroy(client);
        }, settings.connectTimeout);
  try {
    await client.connect();
    return conn;
  } catch (err) {
    destroy(client);
    if (failure !== undefined) throw failure;
    const message = err instanceof Error ? err.message : String(err);
    const kind = isConnectionError(err) ? 'Cannot connect to' : 'Connection refused by';
    throw new ConnectionError(
      `${kind} PostgreSQL at ${settings.target}: ${redact(message, settings.secrets)}`,
      {
        cause: err,
      },
    );
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function destroy(client: pg.Client): void {
  const internal = client as unknown as { connection?: { _ending?: boolean; stream?: { destroy(): void } } };
  if (internal.connection) internal.connection._ending = true;
  internal.connection?.stream?.destroy();
}
