/**
 * {@link DatabaseStats}: what `db.stats()` reports, and the {@link Counters} behind it.
 * @module
 */
import type pg from 'pg';
import type { PoolStats } from '../../src/internal/index.js';
import type { PipelineStats } from './pipeline.js';
import { toResult, type QueryResult } from './queryable.js';
import type { ReplicaStats } from './replica-set.js';

/**
 * The statement and transaction counters of a `Database`.
 *
 * @example
 * ```ts
 * const { queries, errors, cancellations } = db.stats();
 * ```
 */
export interface DatabaseCounts {
  /** Statements that completed, successfully or not. */
  queries: number;
  /** Statements that failed (SQL or connection errors; cancellations excluded). */
  errors: number;
  /** Statements cancelled by an abort or a timeout. */
  cancellations: number;
  /** Transactions committed / rolled back. */
  commits: number;
  rollbacks: number;
}

/**
 * Counters of `db.stats()`.
 *
 * @example
 * ```ts
 * const { pool, pipeline, queries, errors, cancellations } = db.stats();
 * ```
 */
export interface DatabaseStats extends DatabaseCounts {
  /** The primary's connection pool (dedicated connections). */
  pool: PoolStats;
  /** The primary's pipeline mode: its connections and routing counters (all 0 with `pipeline: false`). */
  pipeline: PipelineStats;
  /** The read replicas (`replicas` option), in the order given: URL (password masked), health, pool, pipeline. */
  replicas: ReplicaStats[];
}

/**
 * The live counters of a `Database`, with the callbacks that bump them made once (bound), so
 * counting a query allocates nothing.
 *
 * @example
 * ```ts
 * return pool.run(input, limits).then(counters.answered, counters.failed);
 * ```
 */
export class Counters {
  #queries = 0;
  #errors = 0;
  #cancellations = 0;
  #commits = 0;
  #rollbacks = 0;

  /** A statement answered: counted, and its result shaped for the caller. */
  readonly answered = (res: pg.QueryResult): QueryResult<unknown> => {
    this.#queries++;
    return toResult(res);
  };

  /** A statement failed: counted, and the error rethrown. */
  readonly failed = (err: unknown): never => {
    this.#queries++;
    this.#errors++;
    throw err;
  };

  /** A statement of a transaction completed. */
  readonly statement = (failed: boolean): void => {
    this.#queries++;
    if (failed) this.#errors++;
  };

  /** A transaction ended. */
  readonly ended = (committed: boolean): void => {
    if (committed) this.#commits++;
    else this.#rollbacks++;
  };

  /** An abort or a timeout cancelled a statement. */
  readonly cancelled = (): void => {
    this.#cancellations++;
  };

  /** The counts now. */
  snapshot(): DatabaseCounts {
    return {
      queries: this.#queries,
      errors: this.#errors,
      cancellations: this.#cancellations,
      commits: this.#commits,
      rollbacks: this.#rollbacks,
    };
  }
}
