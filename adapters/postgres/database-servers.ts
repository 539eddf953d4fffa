/**
 * {@link openServers}: the servers of a `Database` built from its resolved options — the primary's
 * {@link ServerPool}, the {@link ReplicaSet} of the read replicas, and how `listen()` connects
 * (`listenUrl`, or the primary refusing a pooler).
 * @module
 */
import { Deadline, reportBackground } from '../../src/internal/index.js';
import { type ConnectSettings, PgConnection } from './connection.js';
import type { ListenConnect } from './listen-options.js';
import type { ResolvedDatabaseOptions } from './options.js';
import { refuseBehindPooler } from './pooler.js';
import { ReplicaSet } from './replica-set.js';
import { ServerPool, serverSettings } from './server-pool.js';

/**
 * What a `Database` talks to.
 *
 * @example
 * ```ts
 * const { settings, primary, replicas, connectListen } = openServers(resolved, counters.cancelled);
 * ```
 */
export interface DatabaseServers {
  /** The primary's connection settings. */
  settings: ConnectSettings;
  primary: ServerPool;
  /** Undefined without `replicas`. */
  replicas: ReplicaSet | undefined;
  connectListen: ListenConnect;
}

/**
 * Builds the servers of `o`; `onCancel` counts cancellations (`db.stats()`). Connects nothing yet.
 *
 * @example
 * ```ts
 * const servers = openServers(resolveDatabaseOptions(opts), () => cancellations++);
 * ```
 */
export function openServers(o: ResolvedDatabaseOptions, onCancel: () => void): DatabaseServers {
  const common = {
    baseConfig: o.baseConfig,
    connectTimeout: o.connectTimeout,
    secrets: o.secrets,
    logger: o.logger,
    onCancel,
  };
  const lost = (target: string) => (_conn: PgConnection, err: Error) =>
    reportBackground({ logger: o.logger }, 'connkit/postgres: connection lost', err, { target });
  const settings = serverSettings(o.primary, common, {
    onBroken: lost(o.primary.target),
    // A primary asked for by its role: a 25006 means it was demoted (see statementFailure).
    wantsWrites: o.primary.sessionAttrs === 'read-write' || o.primary.sessionAttrs === 'primary',
  });
  // Validated once (resolveDatabaseOptions); every server builds its own pipeline group from it.
  const sizing = { pool: o.pool, acquireTimeout: o.acquireTimeout, pipeline: o.pipeline };
  // Pool names label the metrics: the user's pool.name, else the server, each made unique (pool-names.ts).
  const named = o.pool.name;
  const primaryName = named ?? `postgres://${o.primary.target}`;
  const primary = new ServerPool(o.primary.masked, settings, sizing, o.primary, primaryName);
  let replicas: ReplicaSet | undefined;
  if (o.replicas.length > 0) {
    // One create attempt: an unreachable replica is marked down at once and its reads go to the primary.
    const replicaSizing = { ...sizing, pool: { ...o.pool, createAttempts: 1 } };
    const make = (i: number, markDown: (err: unknown) => void): ServerPool => {
      const address = o.replicas[i]!;
      const onBroken = lost(address.target);
      const own = {
        onBroken: (conn: PgConnection, err: Error) => {
          onBroken(conn, err);
          markDown(err);
        },
      };
      const name = named === undefined ? `postgres://${address.target}` : `${named} replica ${i + 1}`;
      return new ServerPool(
        address.masked,
        serverSettings(address, common, own),
        replicaSizing,
        address,
        name,
      );
    };
    replicas = new ReplicaSet(make, o.replicas.length, o.logger);
  }
  const listenSettings =
    o.listen === undefined ? settings : serverSettings(o.listen, common, { onBroken: undefined });
  const connectListen: ListenConnect = async (signal) => {
    const limits = { signal, deadline: Deadline.NEVER };
    const conn = await PgConnection.open(listenSettings, limits);
    // Without a listenUrl, `url` may lead through PgBouncer, where a LISTEN receives nothing.
    if (o.listen === undefined) await refuseBehindPooler(conn, limits);
    return conn;
  };
  return { settings, primary, replicas, connectListen };
}
