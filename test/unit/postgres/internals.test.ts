import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../src/errors.js';
import {
  DatabaseError,
  isConnectionError,
  redact,
  toDatabaseError,
} from '../../../adapters/postgres/errors.js';
import { checkTransactionOptions, resolveDatabaseOptions } from '../../../adapters/postgres/options.js';
import { MAX_PARAMETERS, readQuery } from '../../../adapters/postgres/query-input.js';
import { classifyStatement } from '../../../adapters/postgres/statement-kind.js';
import { beginStatement } from '../../../adapters/postgres/run-transaction.js';

function serverError(code: string, message = 'boom'): Error {
  return Object.assign(new Error(message), {
    code,
    severity: 'ERROR',
    detail: 'd',
    constraint: 'c',
    table: 't',
  });
}

describe('classifyStatement()', () => {
  it('lets plain queries share a pipelined connection', () => {
    expect(classifyStatement('select $1::int')).toBe('shared');
    expect(classifyStatement('  insert into t(a) values ($1) returning id;')).toBe('shared');
    expect(classifyStatement("select 'begin; set x = 1' as s -- set y\n")).toBe('shared');
    expect(classifyStatement('select $$ listen x; $$, $a$ set $a$')).toBe('shared');
    expect(classifyStatement('/* set /* nested */ begin */ select 1')).toBe('shared');
    expect(classifyStatement('with x as (select 1) select * from x')).toBe('shared');
    expect(classifyStatement('create index i on t (a)')).toBe('shared');
    expect(classifyStatement("select 'vacuum concurrently' as v")).toBe('shared');
    expect(classifyStatement('alter table t add column database int')).toBe('shared');
  });

  it('routes statements that change session state to a dedicated connection', () => {
    for (const text of [
      'SET search_path = x',
      'reset all',
      'listen ch',
      'create temp table x (a int)',
      'CREATE TEMPORARY TABLE x (a int)',
      "select set_config('a.b', '1', false)",
      'select pg_advisory_lock(1)',
      'declare c cursor for select 1',
      'prepare p as select 1',
      'select 1; select 2',
      'do $$ begin perform 1; end $$',
      'copy t to stdout',
    ]) {
      expect(classifyStatement(text), text).toBe('dedicated');
    }
  });

  it('routes statements that do not run in a transaction (a cancel could leave part done) to a dedicated connection', () => {
    for (const text of [
      'vacuum analyze t',
      'VACUUM',
      'cluster t using t_pkey',
      'reindex table concurrently t',
      'checkpoint',
      'create index concurrently i on t (a)',
      'drop index concurrently i',
      'refresh materialized view concurrently mv',
      'create database d',
      'drop database if exists d',
      'alter system set work_mem = 1',
      'create tablespace ts location $$/tmp$$',
      'drop subscription s',
    ]) {
      expect(classifyStatement(text), text).toBe('dedicated');
    }
  });

  it('recognises transaction control', () => {
    for (const text of [
      'BEGIN',
      'begin isolation level serializable',
      'start transaction',
      'commit',
      'rollback',
      'end',
      'savepoint a',
      'release savepoint a',
      "prepare transaction 'x'",
      'select 1; commit',
    ]) {
      expect(classifyStatement(text), text).toBe('transaction');
    }
  });
});

describe('readQuery()', () => {
  it('accepts text with values and SqlQuery-like objects', () => {
    expect(readQuery('select $1', [1])).toEqual({ text: 'select $1', values: [1] });
    expect(readQuery({ text: 'select $1', values: ['a'] }, undefined)).toEqual({
      text: 'select $1',
      values: ['a'],
    });
    expect(readQuery('select 1', [])).toEqual({ text: 'select 1', values: undefined });
  });

  it('rejects bad input before it reaches the server', () => {
    expect(() => readQuery('select $1', 'x' as never)).toThrow(/values must be an array, got "x"/);
    expect(() => readQuery('select $1, $2', [1, undefined])).toThrow(TypeError);
    expect(() => readQuery('select $1, $2', [1, undefined])).toThrow(/\$2 is undefined/);
    expect(() => readQuery(42 as never, undefined)).toThrow(TypeError);
    expect(() => readQuery({ text: 'select $1', values: [1] }, [2])).toThrow(TypeError);
    expect(() => readQuery('select 1', new Array(MAX_PARAMETERS + 1).fill(1))).toThrow(RangeError);
  });
});

describe('isConnectionError()', () => {
  it('classifies connection-level failures', () => {
    expect(isConnectionError(serverError('08006'))).toBe(true);
    expect(isConnectionError(serverError('57P01'))).toBe(true);
    expect(isConnectionError(serverError('57P03'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new ConnectionError('x'))).toBe(true);
  });

  it('keeps SQL errors and query cancels apart', () => {
    expect(isConnectionError(serverError('23505'))).toBe(false);
    expect(isConnectionError(serverError('57014'))).toBe(false);
    expect(isConnectionError(new TypeError('x'))).toBe(false);
  });
});

describe('toDatabaseError()', () => {
  it('maps server errors with their fields and retryability', () => {
    const e = toDatabaseError(serverError('40001', 'could not serialize'));
    expect(e).toBeInstanceOf(DatabaseError);
    const d = e as DatabaseError;
    expect([d.code, d.severity, d.detail, d.constraint, d.table, d.retryable]).toEqual([
      '40001',
      'ERROR',
      'd',
      'c',
      't',
      true,
    ]);
    expect((toDatabaseError(serverError('40P01')) as DatabaseError).retryable).toBe(true);
    expect((toDatabaseError(serverError('55P03')) as DatabaseError).retryable).toBe(false);
    expect((toDatabaseError(serverError('23505')) as DatabaseError).retryable).toBe(false);
  });

  it('maps connection failures to ConnectionError without the password', () => {
    const e = toDatabaseError(new Error('Connection terminated for postgres://u:hunter2@h/db'), ['hunter2']);
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as Error).message).not.toContain('hunter2');
  });

  it('passes other errors through', () => {
    const t = new TypeError('x');
    expect(toDatabaseError(t)).toBe(t);
  });

  it('redact() scrubs URL passwords and secrets', () => {
    expect(redact('postgres://me:s3cret@host/db and s3cret', ['s3cret'])).toBe(
      'postgres://me:***@host/db and ***',
    );
  });
});

describe('resolveDatabaseOptions()', () => {
  it('passes ssl and connection settings through to pg, with application_name and statement_timeout', () => {
    const ssl = { rejectUnauthorized: false, ca: 'CA' };
    const o = resolveDatabaseOptions({
      url: 'postgres://u:pw@db.example:6543/app?application_name=x',
      connection: { ssl, keepAlive: true },
      applicationName: 'svc',
      statementTimeout: 1500,
    });
    expect(o.clientConfig.ssl).toBe(ssl);
    expect(o.clientConfig.connectionString).toBe('postgres://u:pw@db.example:6543/app?application_name=x');
    expect(o.tls).toBeUndefined();
    expect(o.clientConfig.application_name).toBe('svc');
    expect(o.clientConfig.statement_timeout).toBe(1500);
    expect(o.target).toBe('db.example:6543/app');
    expect(o.secrets).toContain('pw');
    // Pipeline mode is the default (since 0.2).
    expect(o.pipeline).toEqual({ connections: 2, maxDepth: 128, stallAfter: 10, prepare: true });
  });

  it('takes TLS parameters out of the URL pg gets and reads them with libpq semantics', async () => {
    const o = resolveDatabaseOptions({
      url: 'postgres://u:p%40ss@db.example/app?sslmode=require&options=-c%20x%3D1&uselibpqcompat=true',
      connection: { ssl: { servername: 'db.example' } },
    });
    // No sslmode for pg to parse: it would read require as verify-full and print a SECURITY WARNING.
    expect(o.clientConfig.connectionString).toBe('postgres://u:p%40ss@db.example/app?options=-c+x%3D1');
    expect(o.tls?.mode).toBe('require');
    expect(await o.tls?.first()).toEqual({ servername: 'db.example', rejectUnauthorized: false });
    expect(o.tls?.fallback).toBeUndefined();
    const full = resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=verify-full' });
    expect(await full.tls?.first()).toEqual({ rejectUnauthorized: true });
    const prefer = resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=prefer' });
    expect(await prefer.tls?.first()).toEqual({ rejectUnauthorized: false });
    expect(await prefer.tls?.fallback?.ssl()).toBe(false);
    expect(prefer.tls?.fallback?.retry(new Error('The server does not support SSL connections'))).toBe(true);
    expect(prefer.tls?.fallback?.retry(new Error('self-signed certificate'))).toBe(false);
    const allow = resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=allow' });
    expect(await allow.tls?.first()).toBe(false);
    expect(await allow.tls?.fallback?.ssl()).toEqual({ rejectUnauthorized: false });
    expect(await resolveDatabaseOptions({ url: 'postgres://db/app?ssl=true' }).tls?.first()).toEqual({
      rejectUnauthorized: true,
    });
    expect(resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=disable' }).tls?.mode).toBe('disable');
  });

  it('refuses an unknown sslmode and modes that need a root certificate without one', () => {
    expect(() => resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=sometimes' })).toThrow(/sslmode/);
    expect(() => resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=verify-ca' })).toThrow(
      /sslrootcert/,
    );
    expect(() =>
      resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=require&sslrootcert=system' }),
    ).toThrow(/verify-full/);
    expect(() =>
      resolveDatabaseOptions({ url: 'postgres://db/app?sslmode=prefer&sslnegotiation=direct' }),
    ).toThrow(/sslnegotiation/);
    expect(
      resolveDatabaseOptions({
        url: 'postgres://db/app?sslmode=verify-ca',
        connection: { ssl: { ca: 'CA' } },
      }).tls?.mode,
    ).toBe('verify-ca');
  });

  it("sends a statementTimeout above PostgreSQL's int4 limit as the limit", () => {
    expect(resolveDatabaseOptions({ statementTimeout: 3e9 }).clientConfig.statement_timeout).toBe(
      2_147_483_647,
    );
  });

  it('validates options and never echoes the password', () => {
    expect(() => resolveDatabaseOptions({ url: 'mysql://u:topsecret@h/db' })).toThrow(TypeError);
    expect(() => resolveDatabaseOptions({ url: 'mysql://u:topsecret@h/db' })).not.toThrow(/topsecret/);
    expect(() => resolveDatabaseOptions({ queryTimeout: -1 })).toThrow(RangeError);
    expect(() => resolveDatabaseOptions({ statementTimeout: Number.NaN })).toThrow(RangeError);
    expect(() => resolveDatabaseOptions({ applicationName: 3 as never })).toThrow(TypeError);
    expect(() => resolveDatabaseOptions({ pipeline: { connections: 0 } })).toThrow(RangeError);
    expect(resolveDatabaseOptions({ pipeline: {} }).pipeline?.connections).toBe(2);
    expect(resolveDatabaseOptions({ pipeline: false }).pipeline).toBeUndefined();
    expect(() => resolveDatabaseOptions({ pipeline: true as never })).toThrow(/pipeline must be false or/);
    expect(() => resolveDatabaseOptions({ pipeline: { maxDepth: 0 } })).toThrow(/pipeline\.maxDepth.*0/);
    expect(() => resolveDatabaseOptions({ pipeline: { maxDepth: 2.5 } })).toThrow(RangeError);
    expect(() => resolveDatabaseOptions({ pipeline: { stallAfter: -1 } })).toThrow(
      /pipeline\.stallAfter.*-1/,
    );
    expect(() => resolveDatabaseOptions({ pipeline: { stallAfter: '5' as never } })).toThrow(TypeError);
    expect(() => resolveDatabaseOptions({ pipeline: { prepare: 1 as never } })).toThrow(
      /pipeline\.prepare.*1/,
    );
    expect(
      resolveDatabaseOptions({ pipeline: { maxDepth: 4, stallAfter: Infinity, prepare: false } }).pipeline,
    ).toEqual({ connections: 2, maxDepth: 4, stallAfter: Infinity, prepare: false });
  });

  it('checkTransactionOptions() validates isolation and retries', () => {
    expect(() => checkTransactionOptions({ isolation: 'snapshot' as never })).toThrow(RangeError);
    expect(() => checkTransactionOptions({ retries: -1 })).toThrow(RangeError);
    expect(() => checkTransactionOptions({ readOnly: 'yes' as never })).toThrow(TypeError);
    expect(checkTransactionOptions({ retries: 2 })).toBe(2);
    expect(beginStatement({ isolation: 'serializable', readOnly: true, deferrable: true })).toBe(
      'begin isolation level serializable read only deferrable',
    );
  });
});
