/**
 * TLS end to end: `ssl` options and `sslmode` reach pg, through a TLS-terminating proxy in front of
 * the real server (the machine's server may run with ssl = off).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, Database } from '../../../adapters/postgres/index.js';
import { PgTlsProxy } from '../../support/pg-tls-proxy.js';
import { databaseUrl } from '../../support/services.js';
import { rejectionOf } from '../../support/async.js';

let proxy: PgTlsProxy;
beforeAll(async () => {
  proxy = await PgTlsProxy.start(databaseUrl());
});
afterAll(() => proxy.close());

describe('Database over TLS', () => {
  it('connects with ssl options that verify the server certificate against its CA', async () => {
    const before = proxy.tlsSessions;
    await using db = new Database({
      url: proxy.rewrite(databaseUrl()),
      connection: { ssl: { ca: proxy.cert.cert, servername: 'localhost' } },
    });
    expect(await db.one<{ n: number }>('select 41 + 1 as n')).toEqual({ n: 42 });
    expect(proxy.tlsSessions).toBeGreaterThan(before);
  });

  // pg reads sslmode=require as verify-full unless asked for libpq's meaning (encrypt, do not verify).
  it.each(['?sslmode=require&uselibpqcompat=true', '?sslmode=no-verify'])(
    'connects with %s in the URL (encrypted, certificate not verified)',
    async (query) => {
      const before = proxy.tlsSessions;
      await using db = new Database({ url: proxy.rewrite(databaseUrl(), query) });
      await db.ping();
      expect(proxy.tlsSessions).toBeGreaterThan(before);
    },
  );

  it('refuses a server certificate that fails verification, as ConnectionError', async () => {
    await using db = new Database({
      url: proxy.rewrite(databaseUrl()),
      connection: { ssl: { rejectUnauthorized: true } },
      pool: { acquireTimeout: 5000 },
    });
    const err = await rejectionOf(db.query('select 1'));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(String((err as ConnectionError).cause)).toMatch(/self[- ]signed|certificate/i);
  });

  it('without ssl options the client does not ask for TLS (the proxy refuses plain connections)', async () => {
    const refused = proxy.plainRefused;
    await using db = new Database({ url: proxy.rewrite(databaseUrl()), pool: { acquireTimeout: 3000 } });
    await expect(db.query('select 1')).rejects.toBeInstanceOf(ConnectionError);
    expect(proxy.plainRefused).toBeGreaterThan(refused);
  });
});

/**
 * `sslmode` in the URL with libpq's meaning, and without pg's SECURITY WARNING: connkit takes the
 * TLS parameters out of the URL it hands to pg and builds pg's `ssl` option itself.
 */
describe('Database url sslmode (libpq semantics)', () => {
  let other: PgTlsProxy;
  let dir: string;
  let rootCert: string;
  let otherRootCert: string;
  const warnings: unknown[] = [];
  const onWarning = (w: unknown): void => void warnings.push(w);

  beforeAll(async () => {
    // A certificate for another host name: its chain verifies against itself, its name never matches.
    other = await PgTlsProxy.start(databaseUrl(), ['DNS:elsewhere.invalid']);
    dir = mkdtempSync(join(tmpdir(), 'connkit-sslmode-'));
    rootCert = join(dir, 'root.crt');
    otherRootCert = join(dir, 'other.crt');
    writeFileSync(rootCert, proxy.cert.cert);
    writeFileSync(otherRootCert, other.cert.cert);
    process.on('warning', onWarning);
  });
  afterAll(async () => {
    process.off('warning', onWarning);
    await other?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const securityWarnings = () => warnings.filter((w) => /SECURITY WARNING|sslmode/i.test(String(w)));

  async function connects(url: string): Promise<void> {
    await using db = new Database({ url, pool: { acquireTimeout: 5000 } });
    await db.ping();
  }
  /** The URL's connection fails with a ConnectionError whose cause (pg's or TLS's error) matches. */
  async function refused(url: string, cause: RegExp): Promise<void> {
    await using db = new Database({ url, pool: { acquireTimeout: 5000 } });
    await expect(db.ping()).rejects.toSatisfy(
      (err) => err instanceof ConnectionError && cause.test(String(err.cause)),
    );
  }

  it('require: encrypted without certificate verification, and no SECURITY WARNING', async () => {
    const before = proxy.tlsSessions;
    await connects(proxy.rewrite(databaseUrl(), '?sslmode=require'));
    expect(proxy.tlsSessions).toBeGreaterThan(before);
    await new Promise((r) => setImmediate(r));
    expect(securityWarnings()).toEqual([]);
  });

  it('require against a server without TLS is refused', async () => {
    const plain = new URL(databaseUrl());
    plain.search = '?sslmode=require';
    await refused(plain.toString(), /does not support SSL/);
  });

  it('require with sslrootcert verifies the chain (like verify-ca)', async () => {
    await connects(other.rewrite(databaseUrl(), `?sslmode=require&sslrootcert=${otherRootCert}`));
    await refused(
      proxy.rewrite(databaseUrl(), `?sslmode=require&sslrootcert=${otherRootCert}`),
      /self[- ]signed|certificate/i,
    );
  });

  it('verify-ca checks the chain but not the host name; verify-full checks both', async () => {
    await connects(other.rewrite(databaseUrl(), `?sslmode=verify-ca&sslrootcert=${otherRootCert}`));
    await refused(
      other.rewrite(databaseUrl(), `?sslmode=verify-full&sslrootcert=${otherRootCert}`),
      /altnames|does not match/i,
    );
    await connects(proxy.rewrite(databaseUrl(), `?sslmode=verify-full&sslrootcert=${rootCert}`));
    await refused(
      proxy.rewrite(databaseUrl(), `?sslmode=verify-ca&sslrootcert=${otherRootCert}`),
      /self[- ]signed|certificate/i,
    );
    await new Promise((r) => setImmediate(r));
    expect(securityWarnings()).toEqual([]);
  });

  it('prefer uses TLS when the server offers it and plain text when it does not', async () => {
    const before = proxy.tlsSessions;
    await connects(proxy.rewrite(databaseUrl(), '?sslmode=prefer'));
    expect(proxy.tlsSessions).toBeGreaterThan(before);
    const plain = new URL(databaseUrl());
    plain.search = '?sslmode=prefer';
    await connects(plain.toString());
  });

  it('allow tries plain text first and TLS when the server insists', async () => {
    const [sessions, refusedBefore] = [proxy.tlsSessions, proxy.plainRefused];
    await connects(proxy.rewrite(databaseUrl(), '?sslmode=allow'));
    expect(proxy.plainRefused).toBeGreaterThan(refusedBefore);
    expect(proxy.tlsSessions).toBeGreaterThan(sessions);
    const plain = new URL(databaseUrl());
    plain.search = '?sslmode=allow';
    await connects(plain.toString());
  });

  it('disable never asks for TLS', async () => {
    const before = proxy.plainRefused;
    await refused(proxy.rewrite(databaseUrl(), '?sslmode=disable'), /terminated|ECONNRESET|closed/i);
    expect(proxy.plainRefused).toBeGreaterThan(before);
  });

  it('an unknown sslmode or verify-ca without a root certificate throws at construction', () => {
    expect(() => new Database({ url: proxy.rewrite(databaseUrl(), '?sslmode=bogus') })).toThrow(/sslmode/);
    expect(() => new Database({ url: proxy.rewrite(databaseUrl(), '?sslmode=verify-ca') })).toThrow(
      /sslrootcert/,
    );
  });
});
