/**
 * `ServerPool`: one server's connections — its pool of dedicated connections, its pipelined
 * connections and their settings — and the statement-level routing between the two. A `Database`
 * holds one for the primary and one per read replica.
 * @module
 */
import type pg from 'pg';
import {
  type Deadline,
  type Lease,
  type Logger,
  type PoolOptions,
  type PoolStats,
} from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import type { ConnectionLease } from './connection-lease.js';
import { ConnectionPool } from './connection-pool.js';
import type { ConnectSettings, PgConnection } from './connection.js';
import { PipelineGroup, type PipelineStats } from './pipeline.js';
import type { PipelineLimits } from './pipeline-slots.js';
import { claimPoolName, releasePoolName } from './pool-names.js';
import type { QueryInput } from './query-input.js';
import { QueryTelemetry, type ServerIdentity } from './query-telemetry.js';
import { clientConfigFor } from './server-options.js';
import type { ServerAddress } from './server-url.js';
import type { StatementKind } from './statement-kind.js';

/**
 * What every server of a `Database` shares in its connection settings.
 *
 * @example
 * ```ts
 * const common: CommonSettings = { baseConfig, connectTimeout: 10_000, secrets: [], logger: undefined };
 * ```
 */
export interface CommonSettings {
  /** `connection`, application name, statement timeout: each server's pg config starts from it. */
  baseConfig: pg.ClientConfig;
  connectTimeout: number;
  secrets: readonly string[];
  logger: Logger | undefined;
  onCancel?: (() => void) | undefined;
}

/**
 * The connection settings of one server: its address (hosts, `target_session_attrs`, TLS) over
 * what all servers share, plus its own hooks.
 *
 * @example
 * ```ts
 * const settings = serverSettings(resolved.primary, common, { onBroken, wantsWrites: true });
 * ```
 */
export function serverSettings(
  address: ServerAddress,
  common: CommonSettings,
  own: Pick<ConnectSettings, 'onBroken' | 'wantsWrites'>,
): ConnectSettings {
  return {
    config: { keepAlive: true, ...clientConfigFor(common.baseConfig, address) },
    connectTimeout: common.connectTimeout,
    target: address.target,
    secrets: common.secrets,
    logger: common.logger,
    tls: address.tls,
    hosts: address.hosts,
    sessionAttrs: address.sessionAttrs,
    onCancel: common.onCancel,
    ...own,
  };
}

/**
 * How a {@link ServerPool} sizes its connections (validated once, by `resolveDatabaseOptions`, and
 * shared by every server of a `Database`).
 *
 * @example
 * ```ts
 * const sizing: ServerPoolSizing = { pool: { max: 10 }, acquireTimeout: 10_000, pipeline: { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true } };
 * ```
 */
export interface ServerPoolSizing {
  pool: PoolOptions;
  acquireTimeout: number;
  /** Pipeline mode's size and guards; undefined = off. */
  pipeline: PipelineLimits | undefined;
}

/**
 * What `stats()` of one server reports: its pool and its pipeline.
 *
 * @example
 * ```ts
 * const { pool, pipeline } = server.stats();
 * ```
 */
export interface ServerStats {
  pool: PoolStats;
  /** Its pipelined connections and their routing counters (all 0 with `pipeline: false`). */
  pipeline: PipelineStats;
}

/**
 * One server's connections. Internal to the adapter.
 *
 * @example
 * ```ts
 * const server = new ServerPool('postgres://app@db/app', settings, sizing, address, 'postgres://db:5432/app');
 * const res = await server.query({ text: 'select 1', values: undefined }, NO_LIMITS, 'shared');
 * await server.close(10_000);
 * ```
 */
export class ServerPool {
  /** The server's URL, password masked (for stats and messages). */
  readonly url: string;
  readonly settings: ConnectSettings;
  /** Its pool's name, unique among the open pools (`db.client.connection.pool.name`). */
  readonly poolName: string;
  /** The statement observers (channel, metrics) of this server. */
  readonly telemetry: QueryTelemetry;
  readonly #pool: ConnectionPool;
  readonly #pipeline: PipelineGroup | undefined;

  /**
   * `server` names the server in telemetry; `poolName` is the base of its pool's name (the user's
   * `pool.name`, else `postgres://host:port/database`), made unique among the open pools.
   */
  constructor(
    url: string,
    settings: ConnectSettings,
    sizing: ServerPoolSizing,
    server: ServerIdentity,
    poolName: string,
  ) {
    this.url = url;
    this.poolName = claimPoolName(poolName);
    const pipeline = sizing.pipeline;
    this.telemetry = new QueryTelemetry(
      server,
      this.poolName,
      pipeline === undefined
        ? undefined
        : { limit: pipeline.connections, states: () => this.#pipeline!.connectionStates() },
    );
    const metrics = this.telemetry.metrics;
    this.settings =
      metrics === undefined ? settings : { ...settings, onCancelSent: () => metrics.cancelSent() };
    this.#pool = new ConnectionPool(
      this.settings,
      { ...sizing.pool, name: this.poolName },
      sizing.acquireTimeout,
    );
    // The pool takes what the pipeline hands over: overflow, moved heads, re-sent statements, and
    // statements while pipelined connects fail (its first success reopens the pipelined ones).
    if (pipeline !== undefined)
      this.#pipeline = new PipelineGroup(this.settings, pipeline, this.#pool, this.telemetry);
  }

  /** The pool of dedicated connections (transactions, `withClient`, streams, COPY). */
  get connections(): ConnectionPool {
    return this.#pool;
  }

  /**
   * Runs one standalone statement: to the pipeline group when pipeline mode is on and the statement
   * neither holds nor changes session state (`kind` `'shared'`) — the group itself decides when it
   * runs on a pooled connection after all (stalled or full connections, a text known to be slow) —
   * else on a pooled connection.
   */
  query(input: QueryInput, limits: CallLimits, kind: StatementKind): Promise<pg.QueryResult> {
    // The group publishes its statements itself: only it knows which ones it pipelines.
    if (this.#pipeline !== undefined && kind === 'shared') return this.#pipeline.run(input, limits);
    const pool = this.#pool;
    const telemetry = this.telemetry;
    return telemetry.active
      ? telemetry.observe(input, false, false, () => pool.run(input, limits))
      : pool.run(input, limits);
  }

  /** Borrows a dedicated connection (a transaction's); waits at most until `deadline`. */
  acquire(signal: AbortSignal | undefined, deadline: Deadline): Promise<Lease<PgConnection>> {
    return this.#pool.acquire(signal, deadline);
  }

  /** Gives back what {@link acquire} lent (rolled back or destroyed when dirty). */
  release(lease: Lease<PgConnection>): Promise<void> {
    return this.#pool.release(lease);
  }

  /** Lends a dedicated connection to a stream or COPY. */
  lend(signal: AbortSignal | undefined, deadline: Deadline): Promise<ConnectionLease> {
    return this.#pool.lend(signal, deadline);
  }

  /** Its pool and pipeline (a fresh object each time). */
  stats(): ServerStats {
    return { pool: this.#pool.stats(), pipeline: this.#pipeline?.stats() ?? { ...NO_PIPELINE } };
  }

  /**
   * Waits up to `timeout` ms for lent connections and pipelined statements in flight, then closes
   * everything.
   */
  async close(timeout: number): Promise<void> {
    await Promise.all([this.#pipeline?.close(timeout), this.#pool.close(timeout)]);
    this.telemetry.close();
    releasePoolName(this.poolName);
  }
}

const NO_PIPELINE: PipelineStats = Object.freeze({
  connections: 0,
  inFlight: 0,
  stalled: 0,
  statements: 0,
  overflowed: 0,
  moved: 0,
  resent: 0,
  slowRouted: 0,
});
