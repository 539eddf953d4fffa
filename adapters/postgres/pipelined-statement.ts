/**
 * {@link PipelinedStatement}: one standalone statement on its way through a pipelined connection —
 * the caller's promise, the caller's limits (signal and deadline), and where the statement stands:
 * written, answered, given up by its caller.
 * @module
 */
import type pg from 'pg';
import type { AbortWatcher, Expiring } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import type { QueryInput } from './query-input.js';

/**
 * Who decides what happens to a statement and its caller: `PipelineGroup`.
 *
 * @example
 * ```ts
 * const owner: StatementOwner = { giveUp: (stmt, reason) => abandon(stmt, reason), answer };
 * ```
 */
export interface StatementOwner {
  /** The caller's signal aborted with `reason`. */
  giveUp(stmt: PipelinedStatement, reason: unknown): void;
  /**
   * `pg` answered the statement (`err` set: it failed — pg's own error, not mapped yet); `claimed`:
   * the failure is a cancel of ours that hit it, so it had no effect (see `CancelLedger`).
   */
  answer(
    stmt: PipelinedStatement,
    err: Error | null,
    res: pg.QueryResult | undefined,
    claimed: boolean,
  ): void;
}

/**
 * The connection a statement was written to: `PipelinedConnection`.
 *
 * @example
 * ```ts
 * const claimed = stmt.carrier?.answered(stmt, err) ?? false;
 * ```
 */
export interface StatementCarrier {
  readonly broken: Error | undefined;
  /** Its backend's pid, for messages. */
  readonly processID: number | undefined;
  /** Books the answer (the head moves on); true when `err` is a cancel of ours (see `CancelLedger`). */
  answered(stmt: PipelinedStatement, err: Error | null): boolean;
  /** The statement's caller gave up: cancel it if (once) it runs at the head. */
  abandoned(stmt: PipelinedStatement): void;
  /** True when the prepared statement `name` had been parsed on this connection. */
  parsed(name: string): boolean;
}

/**
 * A statement on a pipelined connection. Internal to the adapter.
 *
 * @example
 * ```ts
 * const stmt = new PipelinedStatement(owner, { text: 'select 1', values: undefined }, NO_LIMITS);
 * conn.write(stmt); // sets stmt.carrier
 * return stmt.promise;
 * ```
 */
export class PipelinedStatement implements Expiring, AbortWatcher {
  readonly input: QueryInput;
  readonly limits: CallLimits;
  readonly promise: Promise<pg.QueryResult>;
  /** Its place in its connection's order of writing (see `CancelLedger`). */
  seq = 0;
  /** `pg` answered it (result or error). */
  answered = false;
  /** Its caller was answered or gave up: nothing more goes to the promise. */
  settled = false;
  /** Its caller gave up (abort or deadline) after it was written: cancelled when it runs at the head. */
  abandoned = false;
  /** Expiring: when the caller's deadline passes (kept by the group's DeadlineList). */
  deadline = Infinity;
  deadlineGroup: object | undefined = undefined;
  /** The caller's deadline passed (rather than its signal aborting). */
  timedOut = false;
  /** Re-sent elsewhere after a cancel of ours hit it: the answer comes from there. */
  resent = false;
  /** Cancelled as a stalled head with statements behind it, to run again elsewhere. */
  moving = false;
  /**
   * It succeeded, but a cancel of ours cut its commit's wait for a synchronous standby short: its
   * commit may not be replicated yet (see `PipelineGroup`).
   */
  unreplicated = false;
  /** The connection it was written to. */
  carrier: StatementCarrier | undefined = undefined;
  /** The prepared statement it ran as (undefined: unnamed). */
  name: string | undefined = undefined;
  /** pg's callback for this statement. */
  readonly callback: (err: Error | null, res: pg.QueryResult | undefined) => void;
  #resolve!: (res: pg.QueryResult) => void;
  #reject!: (err: unknown) => void;
  #onAnswer: (() => void) | undefined = undefined;
  readonly #owner: StatementOwner;

  constructor(owner: StatementOwner, input: QueryInput, limits: CallLimits) {
    this.#owner = owner;
    this.input = input;
    this.limits = limits;
    this.promise = new Promise<pg.QueryResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.callback = (err, res) => {
      // pg may call back twice for one query (a value that fails to serialise): the first counts.
      if (this.answered) return;
      this.answered = true;
      const onAnswer = this.#onAnswer;
      this.#onAnswer = undefined;
      const claimed = this.carrier?.answered(this, err) ?? false;
      this.#owner.answer(this, err, res, claimed);
      onAnswer?.();
    };
  }

  /** Answers the caller (once). */
  resolve(res: pg.QueryResult): void {
    if (this.settled) return;
    this.settled = true;
    this.#resolve(res);
  }

  /** Fails the caller (once). */
  reject(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#reject(err);
  }

  /** Resolves once `pg` answered (for a cancel that waits for its statement to stop). Never rejects. */
  whenAnswered(): Promise<void> {
    if (this.answered) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.#onAnswer;
      this.#onAnswer = before === undefined ? resolve : () => (before(), resolve());
    });
  }

  /** AbortWatcher: the caller's signal aborted. */
  giveUp(reason: unknown): void {
    this.#owner.giveUp(this, reason);
  }
}
