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
import { PipelineGroup } from './pipeline.js';
import type { QueryInput } from './query-input.js';
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
 * How a {@link ServerPool} sizes its connections.
 *
 * @example
 * ```ts
 * const sizing: ServerPoolSizing = { pool: { max: 10 }, acquireTimeout: 10_000, pipelineConnections: 2, queryTimeout: Infinity };
 * ```
 */
export interface ServerPoolSizing {
  pool: PoolOptions;
  acquireTimeout: number;
  /** Shared pipelined connections; 0 = pipeline mode off. */
  pipelineConnections: number;
  queryTimeout: number;
}

/** What a statement is handed to: the pool or the pipeline, which share this signature. */
interface StatementRunner {
  run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult>;
}

/**
 * One server's connections. Internal to the adapter.
 *
 * @example
 * ```ts
 * const server = new ServerPool('postgres://app@db/app', settings, sizing);
 * const res = await server.query({ text: 'select 1', values: undefined }, NO_LIMITS, 'shared', false);
 * await server.close(10_000);
 * ```
 */
export class ServerPool {
  /** The server's URL, password masked (for stats and messages). */
  readonly url: string;
  readonly settings: ConnectSettings;
  readonly #pool: ConnectionPool;
  readonly #pipeline: PipelineGroup | undefined;

  constructor(url: string, settings: ConnectSettings, sizing: ServerPoolSizing) {
    this.url = url;
    this.settings = settings;
    this.#pool = new ConnectionPool(settings, sizing.pool, sizing.acquireTimeout);
    if (sizing.pipelineConnections > 0) {
      this.#pipeline = new PipelineGroup(sizing.pipelineConnections, settings, sizing.queryTimeout);
    }
  }

  /** The pool of dedicated connections (transactions, `withClient`, streams, COPY). */
  get connections(): ConnectionPool {
    return this.#pool;
  }

  /**
   * Runs one standalone statement: on a shared pipelined connection when pipeline mode is on, the
   * statement neither holds nor changes session state (`kind` `'shared'`) and the caller gave no
   * signal or timeout (`explicit`: a pipelined statement cannot be cancelled without risk to its
   * neighbours); else on a pooled connection, where an abort or timeout cancels it on the server.
   */
  query(
    input: QueryInput,
    limits: CallLimits,
    kind: StatementKind,
    explicit: boolean,
  ): Promise<pg.QueryResult> {
    const runner: StatementRunner =
      this.#pipeline !== undefined && kind === 'shared' && !explicit ? this.#pipeline : this.#pool;
    return runner.run(input, limits);
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

  stats(): { pool: PoolStats; pipeline: { connections: number; inFlight: number } } {
    return {
      pool: this.#pool.stats(),
      pipeline: this.#pipeline?.stats() ?? { connections: 0, inFlight: 0 },
    };
  }

  /** Waits up to `timeout` ms for lent connections, then closes everything. */
  async close(timeout: number): Promise<void> {
    await Promise.all([this.#pipeline?.close(), this.#pool.close(timeout)]);
  }
}
