/**
 * target_session_attrs with libpq's meaning: judgeSession() on the facts a server reports (or is
 * asked), and openMatching() trying the hosts in order — on stand-in connections, no server.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { NO_LIMITS } from '../../../adapters/postgres/call-limits.js';
import type { QueryInput } from '../../../adapters/postgres/query-input.js';
import {
  factsFromParameters,
  judgeSession,
  openMatching,
  type HostEndpoint,
  type SessionCandidate,
  type TargetSessionAttrs,
} from '../../../adapters/postgres/target-session.js';
import { ConnectionError, Deadline, TimeoutError } from '../../../src/internal/index.js';

const PRIMARY = { inHotStandby: false, readOnly: false };
const FENCED = { inHotStandby: false, readOnly: true }; // default_transaction_read_only = on
const STANDBY = { inHotStandby: true, readOnly: true };

describe('judgeSession()', () => {
  it('matches as libpq does for each target_session_attrs', () => {
    const table: [TargetSessionAttrs, boolean, boolean, boolean][] = [
      // attrs            primary fenced standby
      ['any', true, true, true],
      ['read-write', true, false, false],
      ['read-only', false, true, true],
      ['primary', true, true, false],
      ['standby', false, false, true],
      ['prefer-standby', false, false, true], // its fallback to any server is openMatching's
    ];
    for (const [attrs, primary, fenced, standby] of table) {
      const matches = (facts: typeof PRIMARY): boolean => {
        const verdict = judgeSession(attrs, facts);
        return 'match' in verdict && verdict.match;
      };
      expect([PRIMARY, FENCED, STANDBY].map(matches), attrs).toEqual([primary, fenced, standby]);
    }
  });

  it('says why a session does not match', () => {
    expect(judgeSession('read-write', STANDBY)).toEqual({ match: false, why: 'in hot standby (read-only)' });
    expect(judgeSession('read-write', FENCED)).toEqual({
      match: false,
      why: 'read-only (default_transaction_read_only is on)',
    });
    expect(judgeSession('read-only', PRIMARY)).toEqual({ match: false, why: 'read-write' });
    expect(judgeSession('primary', STANDBY)).toEqual({ match: false, why: 'in hot standby' });
    expect(judgeSession('standby', PRIMARY)).toEqual({ match: false, why: 'not in hot standby (a primary)' });
  });

  it('asks the server for what it did not report (before PostgreSQL 14, or through a pooler)', () => {
    const unknown = { inHotStandby: undefined, readOnly: undefined };
    expect(judgeSession('read-write', unknown)).toEqual({ need: 'readOnly' });
    expect(judgeSession('read-only', unknown)).toEqual({ need: 'readOnly' });
    expect(judgeSession('primary', unknown)).toEqual({ need: 'inHotStandby' });
    expect(judgeSession('prefer-standby', unknown)).toEqual({ need: 'inHotStandby' });
    expect(judgeSession('any', unknown)).toEqual({ match: true });
  });

  it('factsFromParameters() reads in_hot_standby and default_transaction_read_only (both, or nothing for read-only)', () => {
    const params = (p: Record<string, string>) => factsFromParameters((n) => p[n]);
    expect(params({ in_hot_standby: 'off', default_transaction_read_only: 'off' })).toEqual(PRIMARY);
    expect(params({ in_hot_standby: 'off', default_transaction_read_only: 'on' })).toEqual(FENCED);
    expect(params({ in_hot_standby: 'on', default_transaction_read_only: 'off' })).toEqual(STANDBY);
    expect(params({ in_hot_standby: 'on' })).toEqual({ inHotStandby: true, readOnly: undefined });
    expect(params({})).toEqual({ inHotStandby: undefined, readOnly: undefined });
  });
});

/** A stand-in connection: reports `params`, answers the libpq questions from `answers`. */
class FakeConn implements SessionCandidate {
  closed = false;
  asked: string[] = [];
  constructor(
    readonly host: string,
    readonly params: Record<string, string>,
    readonly answers: { transaction_read_only?: string; in_recovery?: boolean } = {},
  ) {}
  parameter(name: string): string | undefined {
    return this.params[name];
  }
  run(input: QueryInput): Promise<pg.QueryResult> {
    this.asked.push(input.text);
    return Promise.resolve({ rows: [this.answers] } as pg.QueryResult);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const hosts = (...names: string[]): HostEndpoint[] =>
  names.map((n) => ({ target: `${n}:5432/db`, config: {} }));
const primaryParams = { in_hot_standby: 'off', default_transaction_read_only: 'off' };
const standbyParams = { in_hot_standby: 'on', default_transaction_read_only: 'off' };

/** openMatching over servers described by name → what connecting to it does. */
function servers(spec: Record<string, (() => FakeConn) | Error>) {
  const opened: FakeConn[] = [];
  const open = (host: HostEndpoint): Promise<FakeConn> => {
    const what = spec[host.target.split(':')[0]!]!;
    if (what instanceof Error) return Promise.reject(what);
    const conn = what();
    opened.push(conn);
    return Promise.resolve(conn);
  };
  return { open, opened };
}

describe('openMatching()', () => {
  it('read-write with the standby listed first lands on the primary, closing the standby session', async () => {
    const { open, opened } = servers({
      b: () => new FakeConn('b', standbyParams),
      a: () => new FakeConn('a', primaryParams),
    });
    const conn = await openMatching(hosts('b', 'a'), 'read-write', NO_LIMITS, 1000, open, 'b,a');
    expect(conn.host).toBe('a');
    expect(opened.map((c) => [c.host, c.closed])).toEqual([
      ['b', true],
      ['a', false],
    ]);
    expect(conn.asked).toEqual([]); // PostgreSQL 14+ reported both parameters: no round trip
  });

  it('an unreachable host is passed over for the next one', async () => {
    const { open } = servers({
      a: new ConnectionError('Cannot connect to PostgreSQL at a:5432/db: connect ECONNREFUSED'),
      b: () => new FakeConn('b', primaryParams),
    });
    expect((await openMatching(hosts('a', 'b'), 'any', NO_LIMITS, 1000, open, 'a,b')).host).toBe('b');
  });

  it('asks SHOW transaction_read_only / pg_is_in_recovery() when the server reports nothing', async () => {
    const { open, opened } = servers({
      a: () => new FakeConn('a', {}, { transaction_read_only: 'on', in_recovery: true }),
      b: () => new FakeConn('b', {}, { transaction_read_only: 'off', in_recovery: false }),
    });
    expect((await openMatching(hosts('a', 'b'), 'read-write', NO_LIMITS, 1000, open, 'a,b')).host).toBe('b');
    expect(opened[0]!.asked).toEqual(['show transaction_read_only']);
    expect((await openMatching(hosts('a', 'b'), 'standby', NO_LIMITS, 1000, open, 'a,b')).host).toBe('a');
    expect(opened[2]!.asked).toEqual(['select pg_catalog.pg_is_in_recovery() as in_recovery']);
  });

  it('prefer-standby takes a standby anywhere in the list, else the first server that answered', async () => {
    const both = servers({
      a: () => new FakeConn('a', primaryParams),
      b: () => new FakeConn('b', standbyParams),
    });
    const conn = await openMatching(hosts('a', 'b'), 'prefer-standby', NO_LIMITS, 1000, both.open, 'a,b');
    expect(conn.host).toBe('b');
    expect(both.opened[0]!.closed).toBe(true);
    const primaries = servers({
      a: new ConnectionError('down'),
      b: () => new FakeConn('b', primaryParams),
      c: () => new FakeConn('c', primaryParams),
    });
    const fallback = await openMatching(
      hosts('a', 'b', 'c'),
      'prefer-standby',
      NO_LIMITS,
      1000,
      primaries.open,
      'a,b,c',
    );
    expect(fallback.host).toBe('b');
    expect(primaries.opened.map((c) => [c.host, c.closed])).toEqual([
      ['b', false],
      ['c', true],
    ]);
  });

  it('rejects with a ConnectionError naming every host and why it was passed over', async () => {
    const { open } = servers({
      a: new ConnectionError(
        'Cannot connect to PostgreSQL at a:5432/db: connect ECONNREFUSED 127.0.0.1:5432',
      ),
      b: () => new FakeConn('b', standbyParams),
    });
    const failing = openMatching(hosts('a', 'b'), 'read-write', NO_LIMITS, 1000, open, 'a:5432,b:5432/db');
    await expect(failing).rejects.toBeInstanceOf(ConnectionError);
    await expect(
      openMatching(hosts('a', 'b'), 'read-write', NO_LIMITS, 1000, open, 'a:5432,b:5432/db'),
    ).rejects.toThrow(
      'No PostgreSQL server of a:5432,b:5432/db matched target_session_attrs=read-write: Cannot connect to PostgreSQL at a:5432/db: connect ECONNREFUSED 127.0.0.1:5432; b:5432/db is in hot standby (read-only)',
    );
  });

  it("stops at the caller's abort or deadline instead of trying the next host", async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    let tried = 0;
    const abortingOpen = (): Promise<FakeConn> => {
      tried++;
      controller.abort(reason);
      return Promise.reject(new ConnectionError('aborted connect'));
    };
    await expect(
      openMatching(
        hosts('a', 'b'),
        'any',
        { signal: controller.signal, deadline: Deadline.NEVER },
        1000,
        abortingOpen,
        'a,b',
      ),
    ).rejects.toBe(reason);
    expect(tried).toBe(1);
    const expired = Deadline.after(0);
    await expect(
      openMatching(
        hosts('a', 'b'),
        'any',
        { signal: undefined, deadline: expired },
        1000,
        abortingOpen,
        'a,b',
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(tried).toBe(1);
  });
});
