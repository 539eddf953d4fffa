/**
 * `PipelineGroup`: a few shared connections in `pg` pipeline mode. Standalone queries are written
 * to the least loaded one without waiting for the previous answer, which removes a round trip per
 * query. Only statements that neither hold nor change session state, and that carry no signal or
 * per-call timeout, come here (see `Database.query`): cancelling one pipelined statement with a
 * CancelRequest could hit its neighbour, so abortable queries use dedicated connections instead.
 * @module
 */
import type pg from 'pg';
import {
  backoffDelay,
  ConnectionError,
  logDebug,
  PoolClosedError,
  reportBackground,
  startTimer,
  TimeoutError,
} from '../../src/internal/index.js';
import { connect, type ConnectSettings, type PgConnection } from './connection.js';
import { DatabaseError, isConnectionError, toDatabaseError } from './errors.js';
import { submit } from './execute.js';
import type { QueryInput } from './query-input.js';

/** Milliseconds past `queryTimeout` after which a pipelined connection that answers nothing is destroyed. */
const WATCHDOG_GRACE = 5_000;
/** Milliseconds past `queryTimeout` after which the caller of a pipelined query stops waiting. */
const CALLER_MARGIN = 1_000;

/**
 * Shared pipelined connections, each replaced when it dies.
 *
 * @example
 * ```ts
 * const group = new PipelineGroup(2, settings);
 * const res = await group.query({ text: 'select $1::int', values: [1] });
 * await group.close();
 * ```
 */
export class PipelineGroup {
  readonly #settings: ConnectSettings;
  readonly #slots: (PgConnection | undefined)[];
  readonly #connecting: (Promise<PgConnection> | undefined)[];
  #closed = false;
  #failures = 0;
  #retryAt = 0;
  #lastError: unknown = undefined;
  #spread = 0;

  readonly #queryTimeout: number;

  /** `queryTimeout` (ms) is enforced by the server: the connections' statement_timeout is set to it. */
  constructor(size: number, settings: ConnectSettings, queryTimeout = Infinity) {
    this.#queryTimeout = queryTimeout;
    this.#slots = new Array<PgConnection | undefined>(size).fill(undefined);
    this.#connecting = new Array<Promise<PgConnection> | undefined>(size).fill(undefined);
    this.#settings = {
      ...settings,
      config: { ...settings.config, pipeline: true },
      onBroken: (conn) => this.#evict(conn),
    };
  }

  /** Live connections and the queries in flight on them. */
  stats(): { connections: number; inFlight: number } {
    let connections = 0;
    let inFlight = 0;
    for (const c of this.#slots) {
      if (c && !c.broken) {
        connections++;
        inFlight += c.inFlight;
      }
    }
    return { connections, inFlight };
  }

  /** Runs `input` on the least loaded healthy connection (connecting one if none is up). */
  query(input: QueryInput): Promise<pg.QueryResult> {
    const conn = this.#pick();
    const p =
      conn !== undefined
        ? this.#send(conn, input)
        : this.#waitForConnection().then((c) => this.#send(c, input));
    return this.#queryTimeout === Infinity ? p : this.#bounded(p);
  }

  /**
   * The caller's own deadline, `queryTimeout` + a margin that lets the server's statement_timeout
   * answer first when it can: a peer that went silent never answers, and the watchdog that then
   * destroys the socket waits longer. A late answer is dropped.
   */
  #bounded(p: Promise<pg.QueryResult>): Promise<pg.QueryResult> {
    return new Promise<pg.QueryResult>((resolve, reject) => {
      const stop = startTimer(this.#queryTimeout + CALLER_MARGIN, () => {
        reject(
          new TimeoutError(
            `Query timed out after ${this.#queryTimeout} ms (queryTimeout): no answer from PostgreSQL at ${this.#settings.target} on a pipelined connection`,
          ),
        );
      });
      p.then(
        (res) => {
          stop();
          resolve(res);
        },
        (err: unknown) => {
          stop();
          reject(err);
        },
      );
    });
  }

  /** Ends every connection once its in-flight queries are answered. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const conns = this.#slots.filter((c): c is PgConnection => c !== undefined);
    this.#slots.fill(undefined);
    const pending = this.#connecting.filter((p): p is Promise<PgConnection> => p !== undefined);
    await Promise.all([
      ...conns.map((c) => c.close()),
      ...pending.map((p) =>
        p.then(
          (c) => c.close(),
          () => undefined,
        ),
      ),
    ]);
  }

  async #send(conn: PgConnection, input: QueryInput): Promise<pg.QueryResult> {
    conn.inFlight++;
    const q = submit(conn.client, input);
    // The server ends a statement at statement_timeout; no answer well after that means a silently
    // dead peer: destroy the socket so every query in flight on it fails instead of hanging.
    const stopWatchdog =
      this.#queryTimeout === Infinity
        ? undefined
        : startTimer(this.#queryTimeout + WATCHDOG_GRACE, () => this.#kill(conn));
    try {
      return await q;
    } catch (err) {
      // Mapped here, after the await, so the error's stack leads back to the caller.
      if (isConnectionError(err) && err instanceof Error) {
        conn.markBroken(err);
        this.#evict(conn);
      }
      const mapped = toDatabaseError(err, this.#settings.secrets);
      if (
        this.#queryTimeout !== Infinity &&
        mapped instanceof DatabaseError &&
        mapped.code === '57014' &&
        mapped.message.includes('statement timeout')
      ) {
        throw new TimeoutError(
          `Query timed out after ${this.#queryTimeout} ms (queryTimeout, enforced by the server on a pipelined connection)`,
          { cause: mapped },
        );
      }
      throw mapped;
    } finally {
      stopWatchdog?.();
      conn.inFlight--;
    }
  }

  #pick(): PgConnection | undefined {
    const n = this.#slots.length;
    let best: PgConnection | undefined;
    // Ties go to the first connection, not round-robin: under light load one backend stays warm
    // (alternating between backends cost ~10 % at one caller), and under load the least loaded wins.
    for (let i = 0; i < n; i++) {
      const c = this.#slots[i];
      if (c === undefined || c.broken) {
        this.#fill(i);
        continue;
      }
      if (best === undefined || c.inFlight < best.inFlight) best = c;
    }
    return best;
  }

  #fill(i: number): void {
    if (this.#closed || this.#connecting[i] !== undefined) return;
    // After failed connects, back off instead of opening a connection per query during an outage.
    if (performance.now() < this.#retryAt) return;
    const p = connect(this.#settings);
    this.#connecting[i] = p;
    p.then(
      (conn) => {
        this.#connecting[i] = undefined;
        this.#failures = 0;
        if (this.#closed) void conn.close();
        else this.#slots[i] = conn;
      },
      (err: unknown) => {
        this.#connecting[i] = undefined;
        this.#lastError = err;
        this.#retryAt =
          performance.now() + backoffDelay(++this.#failures, { initialDelay: 100, maxDelay: 5_000 });
        reportBackground(
          { logger: this.#settings.logger },
          'connkit/postgres: pipelined connection failed',
          err,
          {
            target: this.#settings.target,
          },
        );
      },
    );
  }

  async #waitForConnection(): Promise<PgConnection> {
    if (this.#closed) throw new PoolClosedError('Database is closed');
    const pending = this.#connecting.filter((p): p is Promise<PgConnection> => p !== undefined);
    if (pending.length === 0) {
      // Backing off after failed connects: fail fast with the reason rather than queue unboundedly.
      throw (
        this.#lastError ??
        new ConnectionError(`No pipelined connection to PostgreSQL at ${this.#settings.target}`)
      );
    }
    // Spread the callers over the connections being opened (cold start), instead of piling them
    // all onto whichever comes up first; if that one fails, any other will do.
    const mine = pending[this.#spread++ % pending.length];
    let conn: PgConnection;
    try {
      conn = await mine!;
    } catch (err) {
      conn = await Promise.any(pending).catch(() => {
        throw err;
      });
    }
    if (this.#closed) throw new PoolClosedError('Database is closed');
    return conn;
  }

  #kill(conn: PgConnection): void {
    conn.markBroken(
      new ConnectionError(`No answer from PostgreSQL at ${this.#settings.target} on a pipelined connection`),
    );
    this.#evict(conn);
    (
      conn.client as unknown as { connection?: { stream?: { destroy(): void } } }
    ).connection?.stream?.destroy();
  }

  #evict(conn: PgConnection): void {
    const i = this.#slots.indexOf(conn);
    if (i !== -1) {
      this.#slots[i] = undefined;
      logDebug(this.#settings.logger, 'connkit/postgres: pipelined connection lost; it will be replaced', {
        target: this.#settings.target,
        pid: conn.processID,
        err: conn.broken,
      });
    }
    void conn.close();
  }
}
