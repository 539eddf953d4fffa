/**
 * {@link PipelinedConnection}: one shared connection in `pg` pipeline mode, with what a pipeline
 * needs on top of a {@link PgConnection} — its statements in the order they were written (the
 * backend runs them in that order, so the oldest unanswered one is the one running: the head), how
 * long the head has been running (head-of-line protection), and cancels that never cost a neighbour:
 * only the head is ever cancelled, and a neighbour that a late cancel hit anyway is recognised
 * ({@link CancelLedger}) so that it can be re-sent.
 *
 * Head-of-line protection has two parts. The group writes nothing new to a connection whose head
 * has run longer than `stallAfter`. And the statements already written behind such a head would
 * still wait for it — for the whole of a lock wait, say — so the connection moves the head out of
 * their way: it cancels it (in autocommit a cancelled statement has no effect) and its owner runs it
 * again on a dedicated connection, where it takes as long as it takes, alone.
 * @module
 */
import type { Socket } from 'node:net';
import { ConnectionError, Deadline, Fifo, now, startTimer } from '../../src/internal/index.js';
import { CancelLedger } from './cancel-ledger.js';
import type { PgConnection } from './connection.js';
import { isConnectionError } from './errors.js';
import { makeQuery, socketOf, wasParsed, whenIdle } from './pg-internals.js';
import type { PipelinedStatement, StatementCarrier } from './pipelined-statement.js';
import { settleWithin } from './settle-within.js';
import { turnedReadOnly } from './statement.js';

/**
 * Milliseconds a given-up statement at the head may take to finish by itself before it is cancelled:
 * most statements that reach the head are answered within it, and a cancel they do not need would
 * only cost a CancelRequest (and could hit the statement after them).
 */
const HEAD_CANCEL_DELAY = 2;
/** Milliseconds a cancelled statement may take to stop before its connection is destroyed. */
const CANCEL_GRACE = 5_000;
/** Milliseconds `close()` gives the CancelRequest for a statement still running at its deadline. */
const CLOSE_CANCEL = 2_000;
/** Milliseconds a delivered CancelRequest may take to stop the head before `pg_cancel_backend` is tried too. */
const CANCEL_CONFIRM = 1_000;
const SQLSTATE_QUERY_CANCELED = '57014';
const SQLSTATE_WARNING = '01000';
const USER_REQUEST = 'due to user request';

/**
 * What a pipelined connection tells its owner.
 *
 * @example
 * ```ts
 * const conn = new PipelinedConnection(pg, 10, { moving: (stmt) => remember(stmt.input.text) });
 * ```
 */
export interface PipelineWatcher {
  /** The head ran longer than `stallAfter` with statements waiting behind it: it is being cancelled, to run again elsewhere. */
  moving(stmt: PipelinedStatement): void;
}

/**
 * A pipelined connection. Internal to the adapter (`PipelineGroup` owns them).
 *
 * @example
 * ```ts
 * const conn = new PipelinedConnection(await PgConnection.open({ ...settings, config: { ...config, pipeline: true } }));
 * conn.write(stmt);
 * ```
 */
export class PipelinedConnection implements StatementCarrier {
  readonly conn: PgConnection;
  /** Statements written and not answered yet. */
  inFlight = 0;
  /** Statements written since it opened. */
  written = 0;
  readonly #order = new Fifo<PipelinedStatement>();
  readonly #cancels = new CancelLedger();
  /** When the head statement started running, as far as we can tell (`now()` scale). */
  #headSince = 0;
  #nextSeq = 1;
  #cancelling: PipelinedStatement | undefined = undefined;
  readonly #stallAfter: number;
  readonly #watcher: PipelineWatcher;
  #stallTimer: (() => void) | undefined = undefined;
  /** When the stall timer is due, and how late it fired last (ms, the `now()` scale). */
  #stallDue = 0;
  #timerLag = 0;
  readonly #socket: Socket | undefined;
  #corked = false;

  /** `stallAfter`: ms the head may run with statements behind it before it is moved (Infinity: never). */
  constructor(conn: PgConnection, stallAfter: number, watcher: PipelineWatcher) {
    this.conn = conn;
    this.#stallAfter = stallAfter;
    this.#watcher = watcher;
    this.#socket = socketOf(conn.client);
    conn.client.on('notice', this.#onNotice);
  }

  /** Why the connection is unusable; undefined while healthy. */
  get broken(): Error | undefined {
    return this.conn.broken;
  }

  /** Its backend's pid, for messages. */
  get processID(): number | undefined {
    return this.conn.processID;
  }

  /**
   * Milliseconds the head statement has been running at `t` (0 when nothing is in flight): it started
   * when the statement before it was answered, or when it was written to an idle connection.
   */
  headAge(t: number): number {
    return this.inFlight === 0 ? 0 : t - this.#headSince;
  }

  /**
   * Writes `stmt` behind everything in flight, as the prepared statement `name` if given; `pg`
   * answers through `stmt.callback`.
   */
  write(stmt: PipelinedStatement, name?: string): void {
    stmt.name = name;
    stmt.seq = this.#nextSeq++;
    if (this.#order.length === 0) {
      this.#headSince = now();
      if (this.#stallTimer === undefined) this.#watchHead(this.#stallAfter);
    }
    this.#order.push(stmt);
    stmt.carrier = this;
    this.inFlight++;
    this.written++;
    if (!this.#corked && this.#socket !== undefined) {
      // Statements written in one turn of the event loop (callers resuming after a batch of answers
      // write the next ones) leave in one write instead of a system call each: the socket is corked
      // until the microtasks of this turn are through.
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    // Values left undefined when there are none: pg then uses the simple protocol.
    this.conn.client.query(makeQuery(stmt.input.text, stmt.input.values, name, stmt.callback));
  }

  /** True when the prepared statement `name` had been parsed on this connection. */
  parsed(name: string): boolean {
    return wasParsed(this.conn.client, name);
  }

  /**
   * A cancel of ours landing while a commit waits for a synchronous standby ends the wait with a
   * WARNING (01000) and success: committed, maybe not replicated; the head is marked for its owner.
   */
  readonly #onNotice = (notice: { code?: string | undefined }): void => {
    if (notice.code !== SQLSTATE_WARNING || this.#cancels.size === 0) return;
    const head = this.#order.peek();
    if (head !== undefined && this.#cancels.mayHaveHit(head.seq)) head.unreplicated = true;
  };

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket?.uncork();
  };

  /**
   * Books `stmt`'s answer: the head moves on (and a given-up statement that becomes the head is
   * cancelled). Returns true when `err` is a 57014 "canceling statement due to user request" that a
   * cancel of ours may have caused — the statement had no effect and may be re-sent.
   */
  answered(stmt: PipelinedStatement, err: Error | null): boolean {
    this.inFlight--;
    // A primary turned read-only (25006) gets nothing more either: the next connection finds the new one.
    if (err !== null && (isConnectionError(err) || turnedReadOnly(this.conn, err))) this.conn.markBroken(err);
    const order = this.#order;
    // pg answers in the order of writing; only an answer out of order (a value that failed to
    // serialise is answered before it is sent) leaves the head where it is.
    const inOrder = order.peek() === stmt;
    const claimed =
      err !== null &&
      this.#cancels.size > 0 &&
      (err as { code?: unknown }).code === SQLSTATE_QUERY_CANCELED &&
      err.message.includes(USER_REQUEST) &&
      this.#cancels.claim(stmt.seq);
    if (!inOrder) return claimed;
    if (this.#cancels.size > 0) this.#cancels.answered(stmt.seq);
    order.shift();
    for (let head = order.peek(); head !== undefined && head.answered; head = order.peek()) order.shift();
    const head = order.peek();
    if (head !== undefined) {
      this.#headSince = now();
      if (head.abandoned) this.#cancelHead(head);
    }
    return claimed;
  }

  /** `stmt`'s caller gave up: it is cancelled if (once) it runs at the head and is still running. */
  abandoned(stmt: PipelinedStatement): void {
    if (this.#order.peek() === stmt) this.#cancelHead(stmt);
  }

  /**
   * Ends the connection once its statements are answered, waiting at most `timeout` ms for them:
   * then the one running is cancelled and the connection destroyed, failing what is left in flight
   * (so closing leaves no statement running on the server). Never rejects.
   */
  async close(timeout: number): Promise<void> {
    this.#stallTimer?.();
    this.#stallTimer = undefined;
    if (this.inFlight > 0 && this.conn.broken === undefined) {
      if (!(await settleWithin(whenIdle(this.conn.client), timeout))) {
        await this.conn.requestCancel(CLOSE_CANCEL);
        this.conn.destroy(
          new ConnectionError(`Database closed with this statement still running (after ${timeout} ms)`),
        );
      }
    }
    await this.conn.close();
  }

  /** Looks at the head again in `ms` (one timer per connection, only while something is in flight). */
  #watchHead(ms: number): void {
    if (ms === Infinity) return;
    this.#stallDue = now() + ms;
    this.#stallTimer = startTimer(ms, this.#onStallTimer, true);
  }

  readonly #onStallTimer = (): void => {
    this.#stallTimer = undefined;
    this.#timerLag = now() - this.#stallDue;
    // After the poll phase of this turn: answers already received move the head first, so a late
    // timer (a busy or paused event loop) does not take a finished statement for a stalled one.
    if (this.inFlight > 0) setImmediate(this.#checkHead);
  };

  readonly #checkHead = (): void => {
    if (this.inFlight === 0 || this.conn.broken !== undefined || this.#stallTimer !== undefined) return;
    const age = now() - this.#headSince;
    // A timer that fired late says this process is too busy to read answers on time (or the
    // machine is saturated): the head's age then says little about the server, and a CancelRequest
    // would cost the saturated server a process. Look again later; a head that really stalls the
    // callers behind it lets the event loop idle, and is moved then.
    if (age < this.#stallAfter || this.#timerLag > this.#stallAfter / 2) {
      this.#watchHead(Math.max(this.#stallAfter - age, this.#stallAfter / 2));
      return;
    }
    const head = this.#order.peek()!;
    if (this.inFlight > 1 && !head.abandoned && !head.moving && this.#cancelling === undefined) {
      head.moving = true;
      this.#watcher.moving(head);
      this.#cancelling = head;
      // One CancelRequest and nothing more: the statement is not at fault, so when the cancel does not
      // stop it (a proxy that swallows CancelRequests) it simply runs on, its connection stalled.
      void this.#requestCancel().finally(() => {
        if (this.#cancelling === head) this.#cancelling = undefined;
        if (head.abandoned && !head.answered) this.#cancelHead(head);
      });
    }
    this.#watchHead(this.#stallAfter);
  };

  /**
   * A CancelRequest, booked in the ledger; true when the server took it. One that could not be
   * confirmed (a socket error, no answer in time) is never taken as over: it might still land.
   */
  async #requestCancel(): Promise<boolean> {
    const ticket = this.#cancels.sent();
    const delivered = await this.conn.requestCancel(CANCEL_GRACE);
    if (delivered) this.#cancels.acknowledged(ticket, this.#nextSeq);
    return delivered;
  }

  #cancelHead(stmt: PipelinedStatement): void {
    if (this.#cancelling === stmt || this.conn.broken !== undefined) return;
    this.#cancelling = stmt;
    void this.#cancel(stmt).finally(() => {
      if (this.#cancelling === stmt) this.#cancelling = undefined;
    });
  }

  /**
   * Cancels the head statement `stmt` like `PgConnection.cancel()` does a dedicated one — a
   * CancelRequest, `pg_cancel_backend` when that was not delivered or the statement still runs a
   * second later, the connection destroyed when it still runs after the grace period — but never
   * waits for the whole connection to drain, and books every cancel in the ledger, since each may land
   * after `stmt` finished and hit the next statement.
   */
  async #cancel(stmt: PipelinedStatement): Promise<void> {
    if (await settleWithin(stmt.whenAnswered(), HEAD_CANCEL_DELAY)) return;
    const grace = Deadline.after(CANCEL_GRACE);
    const delivered = await this.#requestCancel();
    let stopped =
      delivered && (await settleWithin(stmt.whenAnswered(), Math.min(CANCEL_CONFIRM, grace.remaining())));
    if (!stopped && !stmt.answered && this.conn.broken === undefined) {
      // Not delivered, or nothing came of it: a proxy or pooler may swallow CancelRequests.
      const ticket = this.#cancels.sent();
      // Over only once it was answered (or failed), however late: until then it might still land.
      const side = this.conn.cancelBackend().then(() => this.#cancels.acknowledged(ticket, this.#nextSeq));
      await settleWithin(side, grace.remaining());
      stopped = await settleWithin(stmt.whenAnswered(), grace.remaining());
    }
    if (!stopped && !stmt.answered && this.conn.broken === undefined) {
      this.conn.destroy(
        new ConnectionError(
          `A cancelled statement on a pipelined connection did not stop within ${CANCEL_GRACE} ms (backend ${this.conn.processID})`,
        ),
      );
    }
  }
}
