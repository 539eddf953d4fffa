/**
 * `ReplicaSet`: the read replicas of a `Database` and their health. `readOnly` work goes to a
 * healthy replica (the least busy, ties taken in turn); a replica that cannot be reached or is lost
 * is marked unhealthy and probed with backoff (a fresh connection and `select 1`) until it answers
 * again, while its reads run on the primary.
 * @module
 */
import {
  Backoff,
  Deadline,
  logDebug,
  logInfo,
  type Logger,
  type PoolStats,
  reportBackground,
} from '../../src/internal/index.js';
import type { LendConnection } from './connection-lease.js';
import { PgConnection } from './connection.js';
import { isUnreachable } from './errors.js';
import type { PipelineStats } from './pipeline.js';
import type { ServerPool } from './server-pool.js';

/**
 * One replica in `db.stats().replicas`.
 *
 * @example
 * ```ts
 * const [{ url, healthy, pool, pipeline }] = db.stats().replicas;
 * ```
 */
export interface ReplicaStats {
  /** The replica's URL, password masked. */
  url: string;
  /** False from a failure until a probe reaches it again (its reads run on the primary meanwhile). */
  healthy: boolean;
  /** Its pool of dedicated connections. */
  pool: PoolStats;
  /** Its pipelined connections and their routing counters (all 0 with `pipeline: false`). */
  pipeline: PipelineStats;
}

/** Backoff between probes of an unhealthy replica. */
const PROBE_BACKOFF = { initialDelay: 100, maxDelay: 5_000, jitter: 'equal' } as const;
const PING = { text: 'select 1', values: undefined };

class Replica {
  healthy = true;
  /** Work this set handed it that has not settled yet (to spread reads). */
  inFlight = 0;
  probing: Promise<void> | undefined;
  constructor(readonly server: ServerPool) {}
}

/**
 * The read replicas and their health. Internal to the adapter.
 *
 * @example
 * ```ts
 * const replicas = new ReplicaSet((i, markDown) => new ServerPool(urls[i], { ...settings, onBroken: markDown }, sizing), urls.length, logger);
 * const rows = await replicas.run((server) => server.query(input, limits, kind), () => primary.query(…), () => true);
 * ```
 */
export class ReplicaSet {
  readonly #replicas: Replica[];
  readonly #logger: Logger | undefined;
  readonly #closed = new AbortController();
  #next = 0;

  /** `make(i, markDown)` builds replica `i`'s ServerPool; its connections call `markDown` when lost. */
  constructor(
    make: (i: number, markDown: (err: unknown) => void) => ServerPool,
    count: number,
    logger: Logger | undefined,
  ) {
    this.#logger = logger;
    this.#replicas = [];
    for (let i = 0; i < count; i++) {
      this.#replicas.push(new Replica(make(i, (err) => this.#markDown(this.#replicas[i]!, err))));
    }
  }

  /**
   * Runs `work` on a healthy replica; with none, `onPrimary()`. When the replica turns out to be
   * unreachable (see `isUnreachable`), it is marked unhealthy, and `work` is run again on the primary
   * if `retrySafe()` says so (a read that had no effect yet), else the error is thrown.
   */
  run<T>(
    work: (server: ServerPool) => Promise<T>,
    onPrimary: () => Promise<T>,
    retrySafe: () => boolean,
  ): Promise<T> {
    const replica = this.#pick();
    if (replica === undefined) return onPrimary();
    replica.inFlight++;
    let running: Promise<T>;
    try {
      running = work(replica.server);
    } catch (err) {
      running = Promise.reject(err);
    }
    // No async frame on the way: a read on a replica costs what it costs on the primary.
    return running.then(
      (value) => {
        replica.inFlight--;
        return value;
      },
      (err: unknown) => {
        replica.inFlight--;
        if (!isUnreachable(err)) throw err;
        this.#markDown(replica, err);
        if (!retrySafe()) throw err;
        logDebug(this.#logger, 'connkit/postgres: read retried on the primary', {
          replica: replica.server.url,
        });
        return onPrimary();
      },
    );
  }

  /** Lends a connection (to a stream) from a healthy replica, else from `primary`. */
  lender(primary: ServerPool): LendConnection {
    return (signal, deadline) =>
      this.run(
        (server) => server.lend(signal, deadline),
        () => primary.lend(signal, deadline),
        () => !deadline.expired(),
      );
  }

  stats(): ReplicaStats[] {
    return this.#replicas.map((r) => ({ url: r.server.url, healthy: r.healthy, ...r.server.stats() }));
  }

  /** Stops the probes and closes every replica's connections. */
  async close(timeout: number): Promise<void> {
    this.#closed.abort(new Error('Database closed'));
    await Promise.all(this.#replicas.map((r) => Promise.all([r.server.close(timeout), r.probing])));
  }

  /** The healthy replica with the least work in flight; ties go round in turn. */
  #pick(): Replica | undefined {
    const n = this.#replicas.length;
    let best: Replica | undefined;
    for (let k = 0; k < n; k++) {
      const r = this.#replicas[(this.#next + k) % n]!;
      if (r.healthy && (best === undefined || r.inFlight < best.inFlight)) best = r;
    }
    this.#next = (this.#next + 1) % n;
    return best;
  }

  #markDown(replica: Replica, err: unknown): void {
    if (this.#closed.signal.aborted || !replica.healthy) return;
    replica.healthy = false;
    reportBackground(
      { logger: this.#logger },
      'connkit/postgres: read replica unreachable; its reads run on the primary until it answers again',
      err,
      { replica: replica.server.url },
    );
    replica.probing = this.#probe(replica).finally(() => (replica.probing = undefined));
  }

  async #probe(replica: Replica): Promise<void> {
    const backoff = new Backoff(PROBE_BACKOFF);
    const signal = this.#closed.signal;
    while (!signal.aborted) {
      try {
        await backoff.wait(signal);
        const conn = await PgConnection.open(
          { ...replica.server.settings, onBroken: undefined },
          { signal, deadline: Deadline.NEVER },
        );
        try {
          await conn.run(PING, { signal, deadline: Deadline.after(replica.server.settings.connectTimeout) });
        } finally {
          await conn.close();
        }
        replica.healthy = true;
        logInfo(this.#logger, 'connkit/postgres: read replica answers again', {
          replica: replica.server.url,
          probes: backoff.failures,
        });
        return;
      } catch (err) {
        if (signal.aborted) return;
        logDebug(this.#logger, 'connkit/postgres: read replica probe failed', {
          replica: replica.server.url,
          err,
        });
      }
    }
  }
}
