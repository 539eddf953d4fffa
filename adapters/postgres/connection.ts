/**
 * {@link PgConnection}: one PostgreSQL connection as the adapter keeps it — a `pg.Client` with its
 * `'error'` listener attached from birth (a dropped socket never crashes the process) that knows why
 * it broke, runs statements within a call's limits, cancels what it runs on the server and closes.
 * Pool, pipeline, transactions, streams, COPY and LISTEN all hold one of these, so they share its
 * error, cancel and close handling.
 * @module
 */
import type pg from 'pg';
import { ConnectionError, Deadline, logDebug } from '../../src/internal/index.js';
import { type CallLimits, NO_LIMITS } from './call-limits.js';
import { cancelBackendOf, requestCancel } from './cancel-request.js';
import { type ClientSettings, onHost, openClient } from './connect.js';
import {
  backendKey,
  destroySocket,
  isRunning,
  onParameterStatus,
  socketOf,
  transactionStatus,
  whenIdle,
} from './pg-internals.js';
import type { QueryInput } from './query-input.js';
import { settleWithin } from './settle-within.js';
import { runStatement } from './statement.js';
import { type HostEndpoint, openOnHosts } from './target-session.js';

/** Milliseconds a cancelled statement may take to stop before its connection is destroyed. */
const CANCEL_GRACE = 5_000;
/**
 * Milliseconds a delivered CancelRequest may take to stop the statement before `pg_cancel_backend`
 * is tried too (the protocol has no answer to a CancelRequest: one swallowed by a proxy looks sent).
 */
const CANCEL_CONFIRM = 1_000;
/** Milliseconds `close()` waits for the server's goodbye before it destroys the socket. */
const CLOSE_GRACE = 5_000;

/**
 * What {@link PgConnection.open} needs.
 *
 * @example
 * ```ts
 * const settings: ConnectSettings = { config, connectTimeout: 10_000, target, secrets: [], onCancel: () => n++ };
 * ```
 */
export interface ConnectSettings extends ClientSettings {
  /** Called once when an open connection breaks (socket error, server terminated it). */
  onBroken?: ((conn: PgConnection, err: Error) => void) | undefined;
  /** Called when an abort or a timeout cancels a statement (for `db.stats().cancellations`). */
  onCancel?: (() => void) | undefined;
  /** Called when a cancel (CancelRequest or `pg_cancel_backend`) reached the server (metrics). */
  onCancelSent?: (() => void) | undefined;
  /**
   * The connections serve writes (a primary asked for with `target_session_attrs=read-write` or
   * `primary`): a statement refused with 25006 outside a `READ ONLY` transaction means the server
   * turned read-only (demoted, fenced), so the connection is not reused.
   */
  wantsWrites?: boolean | undefined;
}

/**
 * A connected `pg.Client` plus its health. Internal to the adapter.
 *
 * @example
 * ```ts
 * const conn = await PgConnection.open(settings, { signal, deadline: Deadline.after(5_000) });
 * const res = await conn.run({ text: 'select pg_sleep(1)', values: undefined }, { signal, deadline });
 * await conn.close();
 * ```
 */
export class PgConnection {
  readonly client: pg.Client;
  readonly settings: ConnectSettings;
  /** The host this connection reached (one of a multi-host URL's). */
  readonly endpoint: HostEndpoint;
  /** Set while a transaction begun `READ ONLY` runs on it: a 25006 then is the caller's, not a demotion. */
  readOnly = false;
  /** Why the connection is unusable; undefined while healthy. */
  broken: Error | undefined = undefined;
  /** Set while a cancelled statement winds down: nothing else may be sent before it settles. */
  busy: Promise<void> | undefined = undefined;
  #closing: Promise<void> | undefined;
  #lost: { promise: Promise<Error>; resolve(err: Error): void } | undefined;
  readonly #parameters = new Map<string, string>();

  private constructor(client: pg.Client, settings: ConnectSettings, endpoint: HostEndpoint) {
    this.client = client;
    this.settings = settings;
    this.endpoint = endpoint;
    // Listened to from birth: the handshake's ParameterStatus messages say whether the server is a
    // standby (`in_hot_standby`) or read-only (`default_transaction_read_only`), PostgreSQL 14+.
    onParameterStatus(client, (name, value) => this.#parameters.set(name, value));
    client.on('error', (err: Error) => {
      const first = this.broken === undefined;
      this.markBroken(err);
      if (first) settings.onBroken?.(this, err);
    });
    client.on('end', () => this.markBroken(new ConnectionError('PostgreSQL connection ended')));
  }

  /**
   * Opens a connection within `limits` and the settings' connect timeout (see `openClient`). With
   * several `hosts` or a `sessionAttrs`, the first host whose session matches (see `openMatching`),
   * each host within its own connect timeout.
   *
   * @example
   * ```ts
   * const conn = await PgConnection.open(settings, { signal, deadline });
   * ```
   */
  static open(settings: ConnectSettings, limits: CallLimits = NO_LIMITS): Promise<PgConnection> {
    return openOnHosts(settings, limits, (host, l) => PgConnection.#openOn(settings, host, l));
  }

  static async #openOn(
    settings: ConnectSettings,
    host: HostEndpoint,
    limits: CallLimits,
  ): Promise<PgConnection> {
    let conn: PgConnection | undefined;
    const adopt = (client: pg.Client) => (conn = new PgConnection(client, settings, host));
    await openClient(onHost(settings, host), limits, adopt);
    const opened = conn!;
    logDebug(settings.logger, 'connkit/postgres: connection opened', {
      target: host.target,
      pid: opened.processID,
      pipeline: opened.client.pipeline,
    });
    return opened;
  }

  /**
   * A value the server reported in a ParameterStatus message (`server_version`, `in_hot_standby` …).
   *
   * @example
   * ```ts
   * conn.parameter('in_hot_standby'); // 'off'
   * ```
   */
  parameter(name: string): string | undefined {
    return this.#parameters.get(name);
  }

  /** Backend process id (`pg_backend_pid()`), for messages and tests. */
  get processID(): number | undefined {
    return backendKey(this.client)?.processID;
  }

  /** True when no transaction is open (or nothing was run yet): the connection may go back to a pool. */
  get idle(): boolean {
    const s = transactionStatus(this.client);
    return s === 'I' || s === null;
  }

  /** Settles with the reason once the connection breaks or ends (for LISTEN, which must reconnect). */
  get lost(): Promise<Error> {
    if (this.#lost === undefined) {
      let resolve!: (err: Error) => void;
      const promise = new Promise<Error>((r) => (resolve = r));
      this.#lost = { promise, resolve };
      if (this.broken !== undefined) resolve(this.broken);
    }
    return this.#lost.promise;
  }

  /** Marks the connection unusable (first reason wins). */
  markBroken(err: Error): void {
    if (this.broken !== undefined) return;
    this.broken = err;
    this.#lost?.resolve(err);
  }

  /** Breaks the connection now: every statement in flight on it fails (a peer that went silent). */
  destroy(err: Error): void {
    this.markBroken(err);
    destroySocket(this.client, { error: err });
  }

  /**
   * Runs `input` within `limits`: an abort rejects with the signal's reason, the deadline with
   * `TimeoutError`, and either cancels the statement on the server while the connection stays
   * usable (nothing else is sent before the cancelled statement is over). See `runStatement`.
   *
   * @example
   * ```ts
   * const { rows } = await conn.run({ text: 'select $1::int', values: [1] }, NO_LIMITS);
   * ```
   */
  run(input: QueryInput, limits: CallLimits = NO_LIMITS): Promise<pg.QueryResult> {
    return runStatement(this, input, limits);
  }

  /**
   * Hands `submittable` (a cursor, a COPY stream) to the client; it runs after what is queued.
   *
   * @example
   * ```ts
   * const cursor = conn.start(new Cursor('select * from big'));
   * ```
   */
  start<T extends pg.Submittable>(submittable: T): T {
    return this.client.query(submittable);
  }

  /**
   * Cancels what the connection runs now and resolves once it is idle again: a CancelRequest, and
   * `pg_cancel_backend` over a fresh connection when that could not be sent or the statement still
   * runs a second later; then the statement's end — or, after a grace period, the connection
   * destroyed. Every cancel is awaited too, so a late one never hits the next statement. Never
   * rejects; concurrent calls share one cancel.
   *
   * @example
   * ```ts
   * await conn.cancel();
   * ```
   */
  cancel(): Promise<void> {
    if (this.busy !== undefined) return this.busy;
    if (!isRunning(this.client)) return Promise.resolve();
    const busy = this.#cancelAndDrain().finally(() => {
      if (this.busy === busy) this.busy = undefined;
    });
    this.busy = busy;
    return busy;
  }

  /** Pauses reading from the socket (backpressure): the server keeps what follows in its queue. */
  pause(): void {
    socketOf(this.client)?.pause();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    socketOf(this.client)?.resume();
  }

  /** Ends the connection; never rejects, idempotent. A broken socket is destroyed at once. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #cancelAndDrain(): Promise<void> {
    // After a turn of the loop: a result already on its way needs no cancel.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const key = backendKey(this.client);
    if (!isRunning(this.client) || key === undefined) return;
    const idle = whenIdle(this.client);
    const grace = Deadline.after(CANCEL_GRACE);
    // Each cancel is awaited before the connection counts as idle: a late one would hit the next statement.
    const delivered = await this.requestCancel(CANCEL_GRACE);
    let stopped = delivered && (await settleWithin(idle, Math.min(CANCEL_CONFIRM, grace.remaining())));
    if (!stopped) {
      // Not delivered, or nothing came of it: a proxy or pooler may swallow CancelRequests.
      const answered = await settleWithin(this.cancelBackend(), grace.remaining());
      stopped = answered && (await settleWithin(idle, grace.remaining()));
    }
    if (!stopped) {
      this.markBroken(new Error(`Cancelled statement did not stop within ${CANCEL_GRACE} ms`));
      void this.close();
    }
  }

  /**
   * Sends the protocol's CancelRequest for whatever the backend runs now, and resolves once the server
   * has taken it (true), or false when it could not be sent within `timeout` ms. Never rejects. Low
   * level: {@link cancel} decides when; a pipelined connection cancels only its head statement.
   *
   * @example
   * ```ts
   * if (!(await conn.requestCancel(5_000))) await conn.cancelBackend();
   * ```
   */
  requestCancel(timeout: number): Promise<boolean> {
    const sent = requestCancel(this.client, timeout, {
      logger: this.settings.logger,
      target: this.endpoint.target,
    });
    const onSent = this.settings.onCancelSent;
    return onSent === undefined ? sent : sent.then((delivered) => (delivered && onSent(), delivered));
  }

  /**
   * `pg_cancel_backend(pid)` over a fresh connection to the same host, for proxies that swallow
   * CancelRequests; nothing is cancelled when that side connection goes through a pooler (its pid is
   * the pooler's key, not a backend: see `cancelBackend`). Resolves once it was answered or could not
   * be sent (then the caller's grace period destroys the connection). Never rejects. Low level, like
   * {@link requestCancel}.
   *
   * @example
   * ```ts
   * await conn.cancelBackend();
   * ```
   */
  cancelBackend(): Promise<void> {
    const sameHost: ConnectSettings = {
      ...this.settings,
      hosts: [this.endpoint],
      sessionAttrs: 'any',
      onBroken: undefined,
    };
    const log = { logger: this.settings.logger, target: this.endpoint.target };
    const timeout = Math.min(this.settings.connectTimeout, CANCEL_GRACE);
    const onSent = this.settings.onCancelSent;
    return cancelBackendOf(this.client, (limits) => PgConnection.open(sameHost, limits), timeout, log).then(
      (sent) => void (sent && onSent?.()),
    );
  }

  async #close(): Promise<void> {
    const pid = this.processID;
    if (this.broken !== undefined) destroySocket(this.client);
    else if (isRunning(this.client) && !this.client.pipeline) {
      // pg's end() drops the socket under a running statement, which the server would keep
      // executing: cancel it first (best effort, bounded), so closing never leaves work behind.
      await this.requestCancel(2_000);
    }
    // A peer that stopped answering must not hold close() forever.
    const ended = await settleWithin(this.client.end(), CLOSE_GRACE);
    if (!ended) destroySocket(this.client);
    logDebug(this.settings.logger, 'connkit/postgres: connection closed', {
      target: this.settings.target,
      pid,
      reason: this.broken?.message,
    });
  }
}
