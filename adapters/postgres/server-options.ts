/**
 * The servers a `Database` talks to, read from its options: the primary (`url`, or `connection` and
 * pg's defaults), the read `replicas` and the `listenUrl`, each a {@link ServerAddress}.
 * @module
 */
import type pg from 'pg';
import { describeValue } from '../../src/internal/index.js';
import { readServerUrl, type ServerAddress } from './server-url.js';
import { readTargetSessionAttrs } from './target-session.js';

/**
 * Reads `url`, `replicas` and `listenUrl` (see `DatabaseOptions`), adding their passwords to
 * `secrets`. A replica that names another database than `url` is a `TypeError`.
 *
 * @example
 * ```ts
 * const { primary, replicas, listen } = readServers(opts, opts.connection ?? {}, secrets);
 * ```
 */
export function readServers(
  opts: { url?: unknown; replicas?: unknown; listenUrl?: unknown },
  connection: pg.ClientConfig,
  secrets: string[],
): { primary: ServerAddress; replicas: ServerAddress[]; listen: ServerAddress | undefined } {
  const primary =
    opts.url === undefined ? addressOf(connection) : readServerUrl(opts.url, 'url', connection, secrets);
  const replicas = readReplicas(opts.replicas, connection, secrets, primary);
  const listen =
    opts.listenUrl === undefined
      ? undefined
      : readServerUrl(opts.listenUrl, 'listenUrl', connection, secrets);
  return { primary, replicas, listen };
}

/**
 * The pg config of one server: `base` with the server's connection string and TLS negotiation.
 *
 * @example
 * ```ts
 * const config = clientConfigFor(resolved.baseConfig, resolved.replicas[0]);
 * ```
 */
export function clientConfigFor(base: pg.ClientConfig, address: ServerAddress): pg.ClientConfig {
  const config: pg.ClientConfig = { ...base };
  if (address.connectionString !== '') config.connectionString = address.connectionString;
  if (address.negotiation !== undefined) config.sslnegotiation = address.negotiation;
  return config;
}

/** The server `connection` (or pg's defaults and the `PG*` variables) names, when there is no `url`. */
function addressOf(connection: pg.ClientConfig): ServerAddress {
  const host = connection.host || process.env['PGHOST'] || 'localhost';
  const port = connection.port || process.env['PGPORT'] || 5432;
  const database = connection.database || process.env['PGDATABASE'] || '';
  const target = `${host}:${port}/${database}`;
  return {
    masked: target,
    connectionString: '',
    hosts: [{ target, config: {} }],
    sessionAttrs: readTargetSessionAttrs(process.env['PGTARGETSESSIONATTRS'], 'PGTARGETSESSIONATTRS'),
    tls: undefined,
    negotiation: undefined,
    target,
    database: database || undefined,
    serverAddress: host,
    serverPort: Number(port),
  };
}

/** The `replicas` option: each a server URL of the same database as the primary. */
function readReplicas(
  replicas: unknown,
  connection: pg.ClientConfig,
  secrets: string[],
  primary: ServerAddress,
): ServerAddress[] {
  if (replicas === undefined) return [];
  if (!Array.isArray(replicas)) {
    throw new TypeError(`replicas must be an array of URLs, got ${describeValue(replicas)}`);
  }
  return replicas.map((url: unknown, i) => {
    const replica = readServerUrl(url, `replicas[${i}]`, connection, secrets);
    if (
      replica.database !== undefined &&
      primary.database !== undefined &&
      replica.database !== primary.database
    ) {
      throw new TypeError(
        `replicas[${i}] names database ${JSON.stringify(replica.database)} but url names ${JSON.stringify(primary.database)}: a replica must serve the same database (${JSON.stringify(replica.masked)})`,
      );
    }
    return replica;
  });
}
