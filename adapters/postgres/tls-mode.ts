/**
 * TLS from the connection URL with libpq's meaning. connkit takes `sslmode`, `sslrootcert`,
 * `sslcert`, `sslkey`, `sslnegotiation` (and pg's own `ssl`, `uselibpqcompat`) out of the URL it
 * hands to `pg` and builds pg's `ssl` option itself: pg-connection-string reads `sslmode=require` as
 * `verify-full` and prints a SECURITY WARNING about it, where libpq — and every other PostgreSQL
 * client — means "encrypted, certificate not verified".
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import { describeValue } from '../../src/internal/index.js';

/**
 * libpq's `sslmode` values, plus pg's `no-verify` (= `require` without a root certificate).
 *
 * @example
 * ```ts
 * const mode: SslMode = 'verify-full';
 * ```
 */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full' | 'no-verify';

const MODES = new Set<string>([
  'disable',
  'allow',
  'prefer',
  'require',
  'verify-ca',
  'verify-full',
  'no-verify',
]);
/** The URL parameters connkit reads instead of pg. */
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslnegotiation', 'ssl', 'uselibpqcompat'];
const REFUSED_BY_SERVER = 'The server does not support SSL connections';

/**
 * How to open a connection's TLS: the `ssl` option of the first attempt and, for `allow`/`prefer`,
 * of a second attempt made when the first fails the way libpq retries.
 *
 * @example
 * ```ts
 * const ssl = await plan.first();
 * ```
 */
export interface TlsPlan {
  readonly mode: SslMode;
  /** pg's `ssl` option of the first attempt (certificate files read now, so a rotated one is picked up). */
  first(): Promise<false | ConnectionOptions>;
  /** The second attempt, when `retry(err)` says the first one's failure calls for it. */
  readonly fallback?: { ssl(): Promise<false | ConnectionOptions>; retry(cause: unknown): boolean };
}

/**
 * Reads the TLS parameters of `url` (already parsed), returning the URL without them (what pg
 * gets), the plan and the `sslnegotiation`; `undefined` when the URL has none (then
 * `connection.ssl` and pg's defaults apply as they are). `base`: the `ssl` object of `connection`, whose options (a `ca`,
 * `servername` …) the plan keeps. Throws `TypeError` for an unknown mode or a mode that needs a
 * root certificate without one.
 *
 * @example
 * ```ts
 * const { url, plan } = readUrlTls(new URL('postgres://db/app?sslmode=require'), undefined);
 * // url: 'postgres://db/app', plan.mode: 'require'
 * ```
 */
export function readUrlTls(
  parsed: URL,
  base: pg.ClientConfig['ssl'],
): { url: string; plan: TlsPlan; negotiation: 'postgres' | 'direct' | undefined } | undefined {
  const q = parsed.searchParams;
  if (!TLS_PARAMS.some((p) => q.has(p))) return undefined;
  const get = (name: string): string | undefined => q.get(name) ?? undefined;
  const rootcert = get('sslrootcert');
  const files = {
    ca: rootcert === 'system' ? undefined : rootcert,
    cert: get('sslcert'),
    key: get('sslkey'),
  };
  const mode = readMode(get('sslmode'), get('ssl'), rootcert);
  const negotiation = get('sslnegotiation');
  if (negotiation !== undefined && negotiation !== 'postgres' && negotiation !== 'direct') {
    throw new TypeError(`sslnegotiation must be 'postgres' or 'direct', got ${describeValue(negotiation)}`);
  }
  if (negotiation === 'direct' && !['require', 'verify-ca', 'verify-full', 'no-verify'].includes(mode)) {
    throw new TypeError(`sslnegotiation=direct needs sslmode require, verify-ca or verify-full, got ${mode}`);
  }
  const extra: ConnectionOptions = typeof base === 'object' && base !== null ? base : {};
  const hasRoot = files.ca !== undefined || extra.ca !== undefined;
  if (mode === 'verify-ca' && !hasRoot) {
    throw new TypeError(
      'sslmode=verify-ca needs a root certificate (sslrootcert=<file>): without one any certificate a public CA signed for anybody would pass',
    );
  }
  for (const p of TLS_PARAMS) q.delete(p);
  const encrypted = (verify: 'none' | 'chain' | 'full') => () => tlsOptions(extra, files, verify);
  // libpq: without a root certificate, allow/prefer/require do not verify; with one they check the chain.
  const lenient = encrypted(hasRoot ? 'chain' : 'none');
  const plain = () => Promise.resolve(false as const);
  let plan: TlsPlan;
  switch (mode) {
    case 'disable':
      plan = { mode, first: plain };
      break;
    case 'allow':
      // Plain text first; TLS when the server would not have it (anything but a timeout or an abort).
      plan = { mode, first: plain, fallback: { ssl: lenient, retry: () => true } };
      break;
    case 'prefer':
      plan = { mode, first: lenient, fallback: { ssl: plain, retry: refusedTls } };
      break;
    case 'require':
    case 'no-verify':
      plan = { mode, first: mode === 'no-verify' ? encrypted('none') : lenient };
      break;
    case 'verify-ca':
      plan = { mode, first: encrypted('chain') };
      break;
    case 'verify-full':
      plan = { mode, first: encrypted('full') };
      break;
  }
  return { url: parsed.href, plan, negotiation };
}

function readMode(
  sslmode: string | undefined,
  ssl: string | undefined,
  rootcert: string | undefined,
): SslMode {
  if (sslmode !== undefined && !MODES.has(sslmode)) {
    throw new TypeError(
      `sslmode must be disable, allow, prefer, require, verify-ca or verify-full, got ${describeValue(sslmode)}`,
    );
  }
  let mode = sslmode as SslMode | undefined;
  // pg's own `ssl` parameter: true/1 verified like pg always did, 0/false off, no-verify.
  if (mode === undefined && ssl !== undefined) {
    if (ssl === 'true' || ssl === '1') mode = 'verify-full';
    else if (ssl === 'false' || ssl === '0') mode = 'disable';
    else if (ssl === 'no-verify') mode = 'no-verify';
    else throw new TypeError(`ssl must be true, false or no-verify, got ${describeValue(ssl)}`);
  }
  if (rootcert === 'system') {
    // libpq: the system's CAs vouch for anybody's host, so only the full check is allowed with them.
    if (mode !== undefined && mode !== 'verify-full') {
      throw new TypeError(`sslrootcert=system needs sslmode=verify-full, got ${mode}`);
    }
    return 'verify-full';
  }
  return mode ?? 'prefer'; // libpq's default
}

/** True when the first attempt failed because the server refused TLS (its 'N' to SSLRequest). */
function refusedTls(cause: unknown): boolean {
  return cause instanceof Error && cause.message.includes(REFUSED_BY_SERVER);
}

async function tlsOptions(
  extra: ConnectionOptions,
  files: { ca: string | undefined; cert: string | undefined; key: string | undefined },
  verify: 'none' | 'chain' | 'full',
): Promise<ConnectionOptions> {
  const [ca, cert, key] = await Promise.all([files.ca, files.cert, files.key].map(readPem));
  const options: ConnectionOptions = { ...extra };
  if (ca !== undefined) options.ca = ca;
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  if (verify === 'none') options.rejectUnauthorized = false;
  else {
    options.rejectUnauthorized = true;
    // verify-ca: the chain must lead to the root certificate; the host name is not compared.
    if (verify === 'chain') options.checkServerIdentity = () => undefined;
  }
  return options;
}

function readPem(path: string | undefined): Promise<string | undefined> {
  return path === undefined ? Promise.resolve(undefined) : readFile(path, 'utf8');
}
