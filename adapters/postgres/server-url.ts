/**
 * {@link readServerUrl}: a PostgreSQL connection URL with libpq's multi-host syntax —
 * `postgres://user:pw@h1:5432,h2:5433/db?target_session_attrs=read-write`, or the `host=`/`port=`
 * query parameters (`?host=h1,h2&port=5432,5433`) — read into the hosts to try in order, one
 * connection string per host (what `pg` gets: it knows a single host), the `target_session_attrs`
 * and the URL's TLS plan. `pg` has no multi-host support; libpq's rules are followed here: hosts and
 * ports separated by commas, one port for every host or one per host (an empty one: the default),
 * IPv6 addresses in brackets, Unix-socket directories percent-encoded (`%2Fvar%2Frun%2Fpostgresql`).
 * @module
 */
import type pg from 'pg';
import { describeValue } from '../../src/internal/index.js';
import { redact } from './errors.js';
import { type HostEndpoint, readTargetSessionAttrs, type TargetSessionAttrs } from './target-session.js';
import { readUrlTls, type TlsPlan } from './tls-mode.js';

/**
 * One server (or one server role behind several hosts) as a URL describes it.
 *
 * @example
 * ```ts
 * const { hosts, sessionAttrs } = readServerUrl('postgres://h1,h2/app?target_session_attrs=primary', 'url', {}, []);
 * ```
 */
export interface ServerAddress {
  /** The URL with its password masked (for stats and messages). */
  readonly masked: string;
  /** What `pg` gets as `connectionString`: the URL (its first host), without the parameters connkit reads. */
  readonly connectionString: string;
  /** The hosts to try, in order (one for a plain URL). */
  readonly hosts: readonly HostEndpoint[];
  readonly sessionAttrs: TargetSessionAttrs;
  readonly tls: TlsPlan | undefined;
  readonly negotiation: 'postgres' | 'direct' | undefined;
  /** `h1:5432,h2:5433/db`, for messages. */
  readonly target: string;
  /** The database the URL names (else `connection.database`, `PGDATABASE`, the user's name), if known. */
  readonly database: string | undefined;
  /** The host (`server.address` in telemetry); undefined for a multi-host URL, where it varies per connection. */
  readonly serverAddress: string | undefined;
  /** The port of that host; undefined for a multi-host URL. */
  readonly serverPort: number | undefined;
}

/** A placeholder host that makes a multi-host URL parseable by `URL`; never connected to. */
const PLACEHOLDER = 'connkit-placeholder-host';
const SCHEME = /^(postgres(?:ql)?:)\/\/([^/?#]*)(.*)$/is;

/**
 * Reads `url` (the option named `name`) with `base` (the `connection` option) for defaults. Adds the
 * URL's password to `secrets` (scrubbed from every message). Throws `TypeError` for a malformed URL
 * and `RangeError` for an unknown `target_session_attrs`, quoting the URL without its password.
 *
 * @example
 * ```ts
 * const address = readServerUrl(opts.url, 'url', opts.connection ?? {}, secrets);
 * ```
 */
export function readServerUrl(
  url: unknown,
  name: string,
  base: pg.ClientConfig,
  secrets: string[],
): ServerAddress {
  if (typeof url !== 'string') throw new TypeError(`${name} must be a string, got ${describeValue(url)}`);
  const m = SCHEME.exec(url);
  const authority = m?.[2] ?? '';
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at + 1);
  const password = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1, -1) : '';
  if (password) secrets.push(password, safeDecode(password));
  const quoted = JSON.stringify(redact(url, secrets));
  const bad = (why: string): TypeError => new TypeError(`${name} ${why}: ${quoted}`);
  if (!m) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) throw bad('must start with postgres:// or postgresql://');
    throw bad('is not a valid URL');
  }
  let probe: URL;
  try {
    probe = new URL(`${m[1]}//${userinfo}${PLACEHOLDER}${m[3]}`);
  } catch {
    throw bad('is not a valid URL');
  }
  const q = probe.searchParams;
  const sessionAttrs = readTargetSessionAttrs(
    q.get('target_session_attrs') ?? process.env['PGTARGETSESSIONATTRS'],
    `${name} ${quoted}`,
  );
  const hostspec = authority.slice(at + 1);
  const fromUri = hostspec === '' ? [] : hostspec.split(',').map((entry) => splitHostPort(entry, bad));
  const hostNames = q.has('host') ? splitList(q.get('host')!) : fromUri.map((h) => h.host);
  const portList = q.has('port') ? splitList(q.get('port')!) : fromUri.map((h) => h.port);
  if (hostNames.length > 1 && hostNames.some((h) => h === ''))
    throw bad('has an empty host in its host list');
  const ports = portList.map((p) => (p === '' ? undefined : readPort(p, bad)));
  if (ports.length > 1 && hostNames.length !== ports.length) {
    throw bad(
      `lists ${Math.max(hostNames.length, 1)} host(s) but ${ports.length} ports (give one port, or one per host)`,
    );
  }
  const defaultHost = String(base.host || process.env['PGHOST'] || 'localhost');
  const defaultPort = Number(base.port || process.env['PGPORT'] || 5432);
  const hosts = (hostNames.length === 0 ? [''] : hostNames).map((host, i) => ({
    host: host || defaultHost,
    port: (ports.length === 1 ? ports[0] : ports[i]) ?? defaultPort,
  }));
  const user = safeDecode(probe.username) || base.user || process.env['PGUSER'];
  const database =
    safeDecode(probe.pathname.slice(1)) || base.database || process.env['PGDATABASE'] || user || undefined;
  const where = (h: { host: string; port: number }): string => `${formatHost(h.host)}:${h.port}`;
  const target = `${hosts.map(where).join(',')}/${database ?? ''}`;
  const rewritten = hosts.length > 1 || q.has('host') || q.has('port') || q.has('target_session_attrs');
  let connectionString: string;
  let endpoints: HostEndpoint[];
  let fromTls: ReturnType<typeof readUrlTls>;
  if (!rewritten) {
    // A plain URL goes to pg as it was written, less the TLS parameters connkit reads (libpq's meaning).
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw bad('is not a valid URL');
    }
    fromTls = readUrlTls(parsed, base.ssl);
    connectionString = fromTls?.url ?? url;
    endpoints = [{ target, config: {} }];
  } else {
    fromTls = readUrlTls(probe, base.ssl);
    const template = new URL(fromTls?.url ?? probe.href);
    for (const p of ['host', 'port', 'target_session_attrs']) template.searchParams.delete(p);
    const perHost = hosts.map((h) => withAuthority(template, `${encodeHost(h.host)}:${h.port}`));
    connectionString = perHost[0]!;
    endpoints = hosts.map((h, i) => ({
      target: `${where(h)}/${database ?? ''}`,
      config: { connectionString: perHost[i]! },
    }));
  }
  return {
    masked: redact(url, secrets),
    connectionString,
    hosts: endpoints,
    sessionAttrs,
    tls: fromTls?.plan,
    negotiation: fromTls?.negotiation,
    target,
    database,
    serverAddress: hosts.length === 1 ? hosts[0]!.host : undefined,
    serverPort: hosts.length === 1 ? hosts[0]!.port : undefined,
  };
}

function splitHostPort(entry: string, bad: (why: string) => TypeError): { host: string; port: string } {
  if (entry === '') throw bad('has an empty host in its host list');
  let host: string;
  let rest: string;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close === -1) throw bad(`has an unclosed IPv6 bracket in host ${JSON.stringify(entry)}`);
    host = entry.slice(1, close);
    rest = entry.slice(close + 1);
  } else {
    const colon = entry.indexOf(':');
    if (colon !== entry.lastIndexOf(':'))
      throw bad(`has host ${JSON.stringify(entry)}: IPv6 addresses go in brackets`);
    host = colon === -1 ? entry : entry.slice(0, colon);
    rest = colon === -1 ? '' : entry.slice(colon);
  }
  if (rest !== '' && !rest.startsWith(':')) throw bad(`has a malformed host ${JSON.stringify(entry)}`);
  if (host === '') throw bad(`has a port without a host (${JSON.stringify(entry)})`);
  return { host: safeDecode(host), port: rest.slice(1) };
}

function readPort(text: string, bad: (why: string) => TypeError): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65_535)) throw bad(`has an invalid port ${JSON.stringify(text)}`);
  return port;
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A host as it goes into a URL's authority: brackets for IPv6, a socket directory percent-encoded. */
function encodeHost(host: string): string {
  if (host.includes(':')) return `[${host}]`;
  return host.startsWith('/') ? encodeURIComponent(host) : host;
}

function withAuthority(template: URL, hostAndPort: string): string {
  const copy = new URL(template.href);
  copy.host = hostAndPort;
  return copy.href;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
