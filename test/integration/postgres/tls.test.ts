/**
 * TLS end to end: `ssl` options and `sslmode` reach pg, through a TLS-terminating proxy in front of
 * the real server (the machine's server may run with ssl = off).
 */
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
