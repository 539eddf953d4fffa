/**
 * The one place that reaches into `pg.Client`'s internals (`_activeQuery`, `_queryQueue`,
 * `connection.stream`, `connection._ending`, `connection.parsedStatements`, the connection's
 * `parameterStatus` event, `processID`, `secretKey`, `getTransactionStatus`) and `pg.Query`'s
 * undeclared `name`.
 * pg exposes none of them as API; keeping them here means a pg upgrade that moves one breaks one
 * file, and the rest of the adapter speaks of connections, not of pg's fields.
 * @module
 */
import type { Socket } from 'node:net';
import pg from 'pg';

const PgQuery = pg.Query;

interface ClientInternals {
  _activeQuery?: unknown;
  _queryQueue?: unknown[];
  processID: number | null;
  secretKey: number | null;
  connection?: {
    _ending?: boolean;
    stream?: Socket;
    parsedStatements?: Record<string, string>;
    on(
      event: 'parameterStatus',
      listener: (msg: { parameterName: string; parameterValue: string }) => void,
    ): void;
  };
  getTransactionStatus(): string | null;
}

const internals = (client: pg.Client): ClientInternals => client as unknown as ClientInternals;

/**
 * The socket under `client` (to pause it for backpressure, or destroy it).
 *
 * @example
 * ```ts
 * socketOf(client)?.pause();
 * ```
 */
export function socketOf(client: pg.Client): Socket | undefined {
  return internals(client).connection?.stream;
}

/**
 * True while `client` runs or has queued a statement.
 *
 * @example
 * ```ts
 * if (isRunning(client)) await cancel();
 * ```
 */
export function isRunning(client: pg.Client): boolean {
  const c = internals(client);
  return Boolean(c._activeQuery) || (c._queryQueue?.length ?? 0) > 0;
}

/**
 * The backend's pid and secret key (for CancelRequest), or undefined before the handshake.
 *
 * @example
 * ```ts
 * const key = backendKey(client); // { processID: 4242, secretKey: 99 }
 * ```
 */
export function backendKey(client: pg.Client): { processID: number; secretKey: number } | undefined {
  const { processID, secretKey } = internals(client);
  return processID === null || secretKey === null ? undefined : { processID, secretKey };
}

/**
 * `'I'` idle, `'T'` in a transaction, `'E'` in a failed transaction, `null` before the first statement.
 *
 * @example
 * ```ts
 * if (transactionStatus(client) === 'T') await rollback();
 * ```
 */
export function transactionStatus(client: pg.Client): string | null {
  return internals(client).getTransactionStatus();
}

/**
 * Destroys the socket. `quiet`: mark the end as intended first, so pg reports "Connection
 * terminated" rather than an unexpected loss (an abandoned connect).
 *
 * @example
 * ```ts
 * destroySocket(client, { quiet: true });
 * ```
 */
export function destroySocket(client: pg.Client, opts?: { quiet?: boolean; error?: Error }): void {
  const connection = internals(client).connection;
  if (connection === undefined) return;
  if (opts?.quiet) connection._ending = true;
  connection.stream?.destroy(opts?.error);
}

/**
 * Resolves once `client` has nothing running or queued (its `'drain'`), or its connection ended.
 *
 * @example
 * ```ts
 * await whenIdle(client);
 * ```
 */
export function whenIdle(client: pg.Client): Promise<void> {
  if (!isRunning(client)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      client.off('drain', done);
      client.off('end', done);
      resolve();
    };
    client.on('drain', done);
    client.on('end', done);
  });
}

/**
 * Calls `listener` with each ParameterStatus the server sends (during the handshake, and whenever a
 * reported setting changes). pg reads these messages but keeps none of them for its users. Attach it
 * before `connect()`.
 *
 * @example
 * ```ts
 * onParameterStatus(client, (name, value) => params.set(name, value));
 * ```
 */
export function onParameterStatus(client: pg.Client, listener: (name: string, value: string) => void): void {
  internals(client).connection?.on('parameterStatus', (msg) =>
    listener(msg.parameterName, msg.parameterValue),
  );
}

/**
 * A `pg.Query` run as the named prepared statement `name` (`undefined`: unnamed). pg parses a name
 * once per connection (`connection.parsedStatements`) and binds it afterwards; the name is a field of
 * pg's `Query` that its types do not declare. Built here rather than from a config object, which pg
 * would clone property by property for every query.
 *
 * @example
 * ```ts
 * client.query(makeQuery('select $1::int', [1], 'connkit_1', (err, res) => …));
 * ```
 */
export function makeQuery(
  text: string,
  values: unknown[] | undefined,
  name: string | undefined,
  callback: (err: Error | null, res: pg.QueryResult | undefined) => void,
): pg.Query {
  const query = new PgQuery(text, values, callback as never);
  if (name !== undefined) (query as unknown as { name: string }).name = name;
  return query;
}

/**
 * True when the server confirmed (ParseComplete) the prepared statement `name` on `client`'s
 * connection.
 *
 * @example
 * ```ts
 * if (err.code === '26000' && wasParsed(client, name)) … // prepared, and gone since
 * ```
 */
export function wasParsed(client: pg.Client, name: string): boolean {
  return internals(client).connection?.parsedStatements?.[name] !== undefined;
}
