/**
 * libpq's `target_session_attrs`: which server of a multi-host URL a connection may land on, and
 * {@link openMatching}, which tries the hosts in order until one matches.
 *
 * How a session is judged (libpq, PostgreSQL 14+): the server reports `in_hot_standby` and
 * `default_transaction_read_only` in ParameterStatus messages during the handshake, so no round trip
 * is needed. A server that does not report them (before 14, or a pooler that does not pass them on)
 * is asked — `SHOW transaction_read_only` for `read-write`/`read-only`,
 * `SELECT pg_catalog.pg_is_in_recovery()` for `primary`/`standby`/`prefer-standby` — as libpq does.
 * @module
 */
import type pg from 'pg';
import { ConnectionError, describeValue, TimeoutError } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import type { QueryInput } from './query-input.js';

/**
 * The values of libpq's `target_session_attrs`:
 * - `any` (default): any server that accepts the connection;
 * - `read-write`: the session accepts writes by default (not in hot standby, and
 *   `default_transaction_read_only` off) — the primary, unless it was fenced read-only;
 * - `read-only`: the converse (a standby, or a server with `default_transaction_read_only` on);
 * - `primary`: the server is not in hot standby (whatever `default_transaction_read_only` says);
 * - `standby`: the server is in hot standby;
 * - `prefer-standby`: a standby if one of the hosts is, else any server.
 *
 * @example
 * ```ts
 * const attrs: TargetSessionAttrs = 'read-write';
 * ```
 */
export type TargetSessionAttrs =
  'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';

const ATTRS = new Set<string>(['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']);

/**
 * Validates a `target_session_attrs` value (`undefined` → `'any'`); `where` names its origin in the
 * `RangeError` for anything else.
 *
 * @example
 * ```ts
 * readTargetSessionAttrs('read-write', 'url'); // 'read-write'
 * ```
 */
export function readTargetSessionAttrs(value: unknown, where: string): TargetSessionAttrs {
  if (value === undefined || value === null) return 'any';
  if (typeof value !== 'string' || !ATTRS.has(value)) {
    throw new RangeError(
      `${where}: target_session_attrs must be any, read-write, read-only, primary, standby or prefer-standby, got ${describeValue(value)}`,
    );
  }
  return value as TargetSessionAttrs;
}

/**
 * What is known about a session: `undefined` where the server did not say.
 *
 * @example
 * ```ts
 * const facts: SessionFacts = { inHotStandby: false, readOnly: false };
 * ```
 */
export interface SessionFacts {
  /** The server is a standby (`in_hot_standby`, or `pg_is_in_recovery()`). */
  inHotStandby: boolean | undefined;
  /** Transactions are read-only by default (in hot standby, or `default_transaction_read_only` on). */
  readOnly: boolean | undefined;
}

/**
 * The judgement of a session against a `target_session_attrs`: a match, a mismatch with the reason,
 * or the fact still needed (ask the server, then judge again).
 *
 * @example
 * ```ts
 * const v: SessionVerdict = { match: false, why: 'in hot standby (read-only)' };
 * ```
 */
export type SessionVerdict =
  { match: true } | { match: false; why: string } | { need: 'readOnly' | 'inHotStandby' };

/**
 * Judges a session by libpq's rules (`prefer-standby` is judged as `standby`: its fallback to any
 * server is {@link openMatching}'s).
 *
 * @example
 * ```ts
 * judgeSession('read-write', { inHotStandby: true, readOnly: true }); // { match: false, why: 'in hot standby (read-only)' }
 * ```
 */
export function judgeSession(attrs: TargetSessionAttrs, facts: SessionFacts): SessionVerdict {
  switch (attrs) {
    case 'any':
      return { match: true };
    case 'read-write':
    case 'read-only': {
      if (facts.readOnly === undefined) return { need: 'readOnly' };
      if (facts.readOnly === (attrs === 'read-only')) return { match: true };
      if (!facts.readOnly) return { match: false, why: 'read-write' };
      return { match: false, why: describeReadOnly(facts) };
    }
    case 'primary':
    case 'standby':
    case 'prefer-standby': {
      if (facts.inHotStandby === undefined) return { need: 'inHotStandby' };
      if (facts.inHotStandby === (attrs !== 'primary')) return { match: true };
      return { match: false, why: facts.inHotStandby ? 'in hot standby' : 'not in hot standby (a primary)' };
    }
  }
}

function describeReadOnly(facts: SessionFacts): string {
  if (facts.inHotStandby === true) return 'in hot standby (read-only)';
  if (facts.inHotStandby === false) return 'read-only (default_transaction_read_only is on)';
  return 'read-only';
}

/**
 * The facts the server reported in ParameterStatus (PostgreSQL 14+): both parameters or nothing.
 *
 * @example
 * ```ts
 * factsFromParameters((name) => params.get(name)); // { inHotStandby: false, readOnly: false }
 * ```
 */
export function factsFromParameters(parameter: (name: string) => string | undefined): SessionFacts {
  const standby = parameter('in_hot_standby');
  const defaultReadOnly = parameter('default_transaction_read_only');
  const inHotStandby = standby === undefined ? undefined : standby === 'on';
  const readOnly =
    inHotStandby === undefined || defaultReadOnly === undefined
      ? undefined
      : inHotStandby || defaultReadOnly === 'on';
  return { inHotStandby, readOnly };
}

/** The statements libpq asks a server that reports nothing. */
const ASK: Record<'readOnly' | 'inHotStandby', QueryInput> = {
  readOnly: { text: 'show transaction_read_only', values: undefined },
  inHotStandby: { text: 'select pg_catalog.pg_is_in_recovery() as in_recovery', values: undefined },
};

/**
 * What {@link openMatching} needs from a connection (`PgConnection`).
 *
 * @example
 * ```ts
 * const candidate: SessionCandidate = conn;
 * ```
 */
export interface SessionCandidate {
  /** A ParameterStatus value the server reported. */
  parameter(name: string): string | undefined;
  run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult>;
  close(): Promise<void>;
}

/**
 * One host of a server address: its name for messages and what it changes in the pg config.
 *
 * @example
 * ```ts
 * const host: HostEndpoint = { target: '10.0.0.2:5432/app', config: { connectionString: 'postgres://app@10.0.0.2:5432/app' } };
 * ```
 */
export interface HostEndpoint {
  /** `host:port/database`, for messages (never a password). */
  readonly target: string;
  /** Merged over the server's `pg.ClientConfig` to reach this host (its own connection string). */
  readonly config: pg.ClientConfig;
}

/**
 * Judges `conn` against `attrs`, asking the server what it did not report. Resolves with the verdict.
 *
 * @example
 * ```ts
 * const verdict = await checkSession(conn, 'read-write', limits);
 * ```
 */
export async function checkSession(
  conn: SessionCandidate,
  attrs: TargetSessionAttrs,
  limits: CallLimits,
): Promise<{ match: true } | { match: false; why: string }> {
  const facts = factsFromParameters((name) => conn.parameter(name));
  let verdict = judgeSession(attrs, facts);
  if ('need' in verdict) {
    const { rows } = await conn.run(ASK[verdict.need], limits);
    const row = (rows[0] ?? {}) as { transaction_read_only?: string; in_recovery?: boolean };
    if (verdict.need === 'readOnly') facts.readOnly = row.transaction_read_only === 'on';
    else facts.inHotStandby = row.in_recovery === true;
    verdict = judgeSession(attrs, facts);
  }
  if ('need' in verdict) throw new Error(`target_session_attrs: ${verdict.need} still unknown`);
  return verdict;
}

/**
 * Opens a connection to the server `settings` describe: on its one host when there is nothing to
 * choose (one host, `target_session_attrs=any`), else through {@link openMatching}.
 *
 * @example
 * ```ts
 * const conn = await openOnHosts(settings, limits, (host, l) => openOn(host, l));
 * ```
 */
export function openOnHosts<C extends SessionCandidate>(
  settings: {
    hosts?: readonly HostEndpoint[] | undefined;
    sessionAttrs?: TargetSessionAttrs | undefined;
    target: string;
    connectTimeout: number;
  },
  limits: CallLimits,
  open: (host: HostEndpoint, limits: CallLimits) => Promise<C>,
): Promise<C> {
  const hosts = settings.hosts ?? [{ target: settings.target, config: {} }];
  const attrs = settings.sessionAttrs ?? 'any';
  if (hosts.length === 1 && attrs === 'any') return open(hosts[0]!, limits);
  return openMatching(hosts, attrs, limits, settings.connectTimeout, open, settings.target);
}

/**
 * Connects to the first host of `hosts`, in order, whose session matches `attrs` (libpq's
 * multi-host semantics): a host that cannot be reached costs at most the connect timeout `open`
 * applies, then the next one is tried; a session that does not match is closed. `prefer-standby`
 * takes the first standby, else the first server that answered. Rejects with a `ConnectionError`
 * naming every host tried and why it was passed over, or — when the caller's signal or deadline
 * ends the search — with the signal's reason or a `TimeoutError`.
 *
 * @example
 * ```ts
 * const conn = await openMatching(hosts, 'read-write', limits, 10_000, (host, l) => openOn(host, l), 'db1:5432,db2:5432/app');
 * ```
 */
export async function openMatching<C extends SessionCandidate>(
  hosts: readonly HostEndpoint[],
  attrs: TargetSessionAttrs,
  limits: CallLimits,
  connectTimeout: number,
  open: (host: HostEndpoint, limits: CallLimits) => Promise<C>,
  target: string,
): Promise<C> {
  const tried: string[] = [];
  const causes: unknown[] = [];
  const wanted = attrs === 'prefer-standby' ? 'standby' : attrs;
  let fallback: C | undefined;
  for (const host of hosts) {
    stopIfCallerDone(limits, undefined);
    let conn: C;
    try {
      conn = await open(host, limits);
    } catch (err) {
      stopIfCallerDone(limits, err);
      tried.push(err instanceof Error ? err.message : String(err));
      causes.push(err);
      continue;
    }
    let verdict: { match: true } | { match: false; why: string };
    try {
      // The check is part of connecting: a server that does not answer it costs the connect timeout.
      const checkLimits = { signal: limits.signal, deadline: limits.deadline.atMost(connectTimeout) };
      verdict = await checkSession(conn, wanted, checkLimits);
    } catch (err) {
      await conn.close();
      stopIfCallerDone(limits, err);
      tried.push(`${host.target}: ${err instanceof Error ? err.message : String(err)}`);
      causes.push(err);
      continue;
    }
    if (verdict.match) {
      if (fallback !== undefined) void fallback.close();
      return conn;
    }
    tried.push(`${host.target} is ${verdict.why}`);
    // prefer-standby: no standby yet; the first server that answered is kept in case none is.
    if (attrs === 'prefer-standby' && fallback === undefined) fallback = conn;
    else await conn.close();
  }
  if (fallback !== undefined) return fallback;
  throw new ConnectionError(
    `No PostgreSQL server of ${target} matched target_session_attrs=${attrs}: ${tried.join('; ')}`,
    { cause: causes.length === 1 ? causes[0] : new AggregateError(causes, 'every host failed') },
  );
}

/** The caller's abort or deadline ends the search: rethrow what says so. */
function stopIfCallerDone(limits: CallLimits, err: unknown): void {
  if (limits.signal?.aborted) throw limits.signal.reason;
  if (!limits.deadline.expired()) return;
  throw err instanceof TimeoutError
    ? err
    : new TimeoutError(`Connecting to PostgreSQL timed out after ${limits.deadline.ms} ms`, { cause: err });
}
