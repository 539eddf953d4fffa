/**
 * readServerUrl(): libpq's multi-host URL syntax read into hosts tried in order, one connection
 * string per host for pg, and target_session_attrs; malformed URLs refused synchronously, quoting
 * the URL without its password.
 */
import { describe, expect, it } from 'vitest';
import { Database } from '../../../adapters/postgres/index.js';
import { resolveDatabaseOptions } from '../../../adapters/postgres/options.js';
import { readServerUrl } from '../../../adapters/postgres/server-url.js';

const read = (url: string, base = {}) => readServerUrl(url, 'url', base, []);
const hostUrls = (url: string) => read(url).hosts.map((h) => h.config.connectionString);

describe('readServerUrl()', () => {
  it('keeps a plain one-host URL as written, with one endpoint and target_session_attrs any', () => {
    const a = read('postgres://app:pw@db.example:6543/app?application_name=x');
    expect(a.connectionString).toBe('postgres://app:pw@db.example:6543/app?application_name=x');
    expect(a.hosts).toEqual([{ target: 'db.example:6543/app', config: {} }]);
    expect(a.sessionAttrs).toBe('any');
    expect(a.target).toBe('db.example:6543/app');
    expect(a.database).toBe('app');
    expect(a.masked).toBe('postgres://app:***@db.example:6543/app?application_name=x');
  });

  it('splits comma-separated hosts and ports, in order, into one connection string per host', () => {
    const a = read('postgres://app:pw@h1:5432,h2:5433/app?target_session_attrs=read-write&connect_timeout=3');
    expect(a.sessionAttrs).toBe('read-write');
    expect(a.target).toBe('h1:5432,h2:5433/app');
    expect(a.hosts.map((h) => h.target)).toEqual(['h1:5432/app', 'h2:5433/app']);
    expect(
      hostUrls('postgres://app:pw@h1:5432,h2:5433/app?target_session_attrs=read-write&connect_timeout=3'),
    ).toEqual([
      'postgres://app:pw@h1:5432/app?connect_timeout=3',
      'postgres://app:pw@h2:5433/app?connect_timeout=3',
    ]);
    expect(a.connectionString).toBe('postgres://app:pw@h1:5432/app?connect_timeout=3');
  });

  it('gives hosts without a port the default port (connection.port, else 5432)', () => {
    expect(read('postgres://h1,h2:6000,h3/db').hosts.map((h) => h.target)).toEqual([
      'h1:5432/db',
      'h2:6000/db',
      'h3:5432/db',
    ]);
    expect(read('postgres://h1,h2/db', { port: 7000 }).target).toBe('h1:7000,h2:7000/db');
  });

  it('reads the host= and port= query parameters (one port for all hosts, or one per host)', () => {
    expect(read('postgres://u@/db?host=h1,h2&port=5433').target).toBe('h1:5433,h2:5433/db');
    expect(read('postgres:///db?host=h1,h2&port=5433,5434').target).toBe('h1:5433,h2:5434/db');
    expect(hostUrls('postgres:///db?host=h1,h2&port=5433,5434&sslmode=disable')).toEqual([
      'postgres://h1:5433/db',
      'postgres://h2:5434/db',
    ]);
    // Query parameters win over the authority, as in libpq.
    expect(read('postgres://a:1/db?host=b').target).toBe('b:1/db');
  });

  it('handles IPv6 hosts in brackets and percent-encoded Unix-socket directories', () => {
    const a = read('postgres://u@[::1]:5432,[fe80::2]:5433/db?target_session_attrs=primary');
    expect(a.target).toBe('[::1]:5432,[fe80::2]:5433/db');
    expect(hostUrls('postgres://u@[::1]:5432,[fe80::2]/db?target_session_attrs=any')).toEqual([
      'postgres://u@[::1]:5432/db',
      'postgres://u@[fe80::2]:5432/db',
    ]);
    expect(hostUrls('postgres://u@%2Fvar%2Frun%2Fpostgresql,h2/db')[0]).toBe(
      'postgres://u@%2Fvar%2Frun%2Fpostgresql:5432/db',
    );
  });

  it('takes TLS parameters out of every host URL (connkit reads them) and keeps the plan', () => {
    const a = read('postgres://u@h1,h2/db?sslmode=require&application_name=x');
    expect(a.tls?.mode).toBe('require');
    expect(a.hosts.map((h) => h.config.connectionString)).toEqual([
      'postgres://u@h1:5432/db?application_name=x',
      'postgres://u@h2:5432/db?application_name=x',
    ]);
  });

  it('reads every target_session_attrs value and refuses others with a RangeError quoting the URL', () => {
    for (const v of ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const) {
      expect(read(`postgres://h1,h2/db?target_session_attrs=${v}`).sessionAttrs).toBe(v);
    }
    const bad = () => read('postgres://u:s3cret@h1,h2/db?target_session_attrs=master');
    expect(bad).toThrow(RangeError);
    expect(bad).toThrow(
      /target_session_attrs must be any, read-write, read-only, primary, standby or prefer-standby, got "master"/,
    );
    expect(bad).toThrow(/postgres:\/\/u:\*\*\*@h1,h2/);
    expect(bad).not.toThrow(/s3cret/);
  });

  it('refuses malformed host lists with a TypeError that quotes the URL without its password', () => {
    const cases: [string, RegExp][] = [
      ['postgres://u:s3cret@h1,,h2/db', /empty host/],
      ['postgres://u:s3cret@h1:5432,:5433/db', /port without a host/],
      ['postgres://u:s3cret@h1:54x2,h2/db', /invalid port "54x2"/],
      ['postgres://u:s3cret@h1:70000,h2/db', /invalid port "70000"/],
      ['postgres://u:s3cret@::1,h2/db', /IPv6 addresses go in brackets/],
      ['postgres://u:s3cret@[::1,h2/db', /unclosed IPv6 bracket/],
      ['postgres://u:s3cret@h1,h2,h3/db?port=1,2', /3 host\(s\) but 2 ports/],
      ['mysql://u:s3cret@h1,h2/db', /must start with postgres:\/\//],
      ['not a url', /is not a valid URL/],
    ];
    for (const [url, why] of cases) {
      expect(() => read(url), url).toThrow(TypeError);
      expect(() => read(url), url).toThrow(why);
      expect(() => read(url), url).not.toThrow(/s3cret/);
    }
    expect(() => readServerUrl(42, 'replicas[0]', {}, [])).toThrow(/replicas\[0\] must be a string, got 42/);
  });

  it('adds the password (and its decoded form) to the secrets scrubbed from messages', () => {
    const secrets: string[] = [];
    readServerUrl('postgres://u:p%40ss@h1,h2/db', 'url', {}, secrets);
    expect(secrets).toEqual(['p%40ss', 'p@ss']);
  });
});

describe('resolveDatabaseOptions() with replicas and listenUrl', () => {
  it('reads each replica and the listenUrl as a server of its own', () => {
    const o = resolveDatabaseOptions({
      url: 'postgres://u:pw@p1,p2/app?target_session_attrs=read-write',
      replicas: ['postgres://u:rpw@r1/app', 'postgres://u@r2:5433,r3/app?target_session_attrs=standby'],
      listenUrl: 'postgres://u:lpw@p1/app',
    });
    expect(o.primary.sessionAttrs).toBe('read-write');
    expect(o.replicas.map((r) => r.target)).toEqual(['r1:5432/app', 'r2:5433,r3:5432/app']);
    expect(o.replicas[1]!.sessionAttrs).toBe('standby');
    expect(o.listen?.target).toBe('p1:5432/app');
    expect(o.secrets).toEqual(expect.arrayContaining(['pw', 'rpw', 'lpw']));
    expect(o.clientConfig.connectionString).toBe('postgres://u:pw@p1:5432/app');
  });

  it('refuses a replica of another database, and replicas that are not an array of strings', () => {
    const other = () =>
      resolveDatabaseOptions({ url: 'postgres://u@p/app', replicas: ['postgres://u:s3cret@r/other'] });
    expect(other).toThrow(TypeError);
    expect(other).toThrow(/replicas\[0\] names database "other" but url names "app"/);
    expect(other).not.toThrow(/s3cret/);
    expect(() => resolveDatabaseOptions({ replicas: 'postgres://r/app' as never })).toThrow(
      /replicas must be an array of URLs/,
    );
    expect(() => resolveDatabaseOptions({ url: 'postgres://p/app', replicas: [undefined as never] })).toThrow(
      /replicas\[0\] must be a string/,
    );
    expect(() => resolveDatabaseOptions({ listenUrl: 'postgres://u:s3cret@a,,b/app' })).toThrow(
      /listenUrl has an empty host/,
    );
  });
});

describe('new Database() with bad HA options', () => {
  it('throws synchronously at construction, quoting the bad value without the password', () => {
    const cases: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      [() => new Database({ url: 'postgres://u:s3cret@h1,,h2/db' }), TypeError, /url has an empty host/],
      [
        () => new Database({ url: 'postgres://u:s3cret@h1,h2/db?target_session_attrs=master' }),
        RangeError,
        /target_session_attrs must be any, read-write, read-only, primary, standby or prefer-standby, got "master"/,
      ],
      [
        () => new Database({ url: 'postgres://u:s3cret@p/app', replicas: ['postgres://u:s3cret@r/other'] }),
        TypeError,
        /replicas\[0\] names database "other" but url names "app"/,
      ],
      [
        () => new Database({ listenUrl: 'http://u:s3cret@h/db' }),
        TypeError,
        /listenUrl must start with postgres:\/\//,
      ],
    ];
    for (const [make, type, why] of cases) {
      expect(make).toThrow(type);
      expect(make).toThrow(why);
      expect(make).not.toThrow(/s3cret/);
    }
  });
});
