/**
 * `PipelineGroup`: a few shared connections in `pg` pipeline mode. Standalone queries are written
 * to the least loaded one without waiting for the previous answer, which removes a round trip per
 * query. Only statements that neither hold nor change session state, and that carry no signal or
 * per-call timeout, come here (see `Database.query`): cancelling one pipelined statement with a
 * CancelRequest could hit its neighbour, so abortable queries use dedicated connections instead.
 * @module
 */
import type pg from 'pg';
import { PoolClosedError } from '../../src/errors.js';
import { connect, type ConnectSettings, type PgConnection } from './connection.js';
import { isConnectionError, toDatabaseError } from './errors.js';
import type { QueryInput } from './query-input.js';

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
  #next = 0;

  constructor(size: number, settings: ConnectSettings) {
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
    if (conn !== undefined) return this.#send(conn, input);
    return this.#waitForConnection().then((c) => this.#send(c, input));
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

  #send(conn: PgConnection, input: QueryInput): Promise<pg.QueryResult> {
    conn.inFlight++;
    const q = conn.client.query(
      input.values === undefined ? input.text : { text: input.text, values: input.values },
    );
    return q.then(
      (res) => {
        conn.inFlight--;
        return res;
      },
      (err: unknown) => {
        conn.inFlight--;
        if (isConnectionError(err) && err instanceof Error) {
          conn.markBroken(err);
          this.#evict(conn);
        }
        throw toDatabaseError(err, this.#settings.secrets);
      },
    );
  }

  #pick(): PgConnection | undefined {
    const n = this.#slots.length;
    let best: PgConnection | undefined;
    // Round-robin start so equally loaded connections take turns.
    const start = this.#next;
    this.#next = (start + 1) % n;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
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
    const p = connect(this.#settings);
    this.#connecting[i] = p;
    p.then(
      (conn) => {
        this.#connecting[i] = undefined;
        if (this.#closed) void conn.close();
        else this.#slots[i] = conn;
      },
      (err: unknown) => {
        this.#connecting[i] = undefined;
        this.#settings.logger?.warn('connkit/postgres: pipelined connection failed', { error: err });
      },
    );
  }

  async #waitForConnection(): Promise<PgConnection> {
    if (this.#closed) throw new PoolClosedError('Database is closed');
    const pending = this.#connecting.filter((p): p is Promise<PgConnection> => p !== undefined);
    // Any connection that comes up will do; if all fail, the first error is the caller's error.
    const conn = await Promise.any(pending).catch((agg: unknown) => {
      throw (agg as AggregateError).errors[0];
    });
    if (this.#closed) throw new PoolClosedError('Database is closed');
    return conn;
  }

  #evict(conn: PgConnection): void {
    const i = this.#slots.indexOf(conn);
    if (i !== -1) this.#slots[i] = undefined;
    void conn.close();
  }
}
