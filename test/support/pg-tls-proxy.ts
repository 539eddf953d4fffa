/**
 * A TLS-terminating proxy for PostgreSQL, so TLS is tested end to end even where the server has
 * `ssl = off`: it answers the client's SSLRequest with 'S', runs the TLS handshake with a throwaway
 * self-signed certificate (made by the `openssl` CLI), and forwards the decrypted protocol to the
 * real server.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

/** PostgreSQL's SSLRequest code (protocol 1234.5679). */
const SSL_REQUEST = 80877103;

export interface SelfSignedCert {
  key: string;
  cert: string;
}

/**
 * A fresh self-signed certificate; by default for `localhost` / 127.0.0.1. `altNames` are
 * subjectAltName entries (`DNS:…`, `IP:…`): a certificate for another name lets a test tell a chain
 * check from a host-name check.
 */
export function selfSignedCert(altNames = ['DNS:localhost', 'IP:127.0.0.1']): SelfSignedCert {
  const dir = mkdtempSync(join(tmpdir(), 'connkit-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${altNames[0]!.replace(/^\w+:/, '')}`,
        '-addext',
        `subjectAltName=${altNames.join(',')}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class PgTlsProxy {
  readonly cert: SelfSignedCert;
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #tlsSessions = 0;
  #plainRefused = 0;

  private constructor(server: net.Server, cert: SelfSignedCert, target: { host: string; port: number }) {
    this.#server = server;
    this.cert = cert;
    server.on('connection', (socket) => this.#accept(socket, target));
    server.on('error', () => undefined);
  }

  /** Starts a proxy on 127.0.0.1 in front of the server of `url`, its certificate for `altNames`. */
  static async start(url: string, altNames?: string[]): Promise<PgTlsProxy> {
    const u = new URL(url);
    const server = net.createServer();
    const proxy = new PgTlsProxy(server, selfSignedCert(altNames), {
      host: u.hostname,
      port: Number(u.port || 5432),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Connections that completed a TLS handshake. */
  get tlsSessions(): number {
    return this.#tlsSessions;
  }

  /** Connections refused because they did not ask for TLS. */
  get plainRefused(): number {
    return this.#plainRefused;
  }

  /** `url` pointed at the proxy (host 127.0.0.1), query string replaced by `query`. */
  rewrite(url: string, query = ''): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    u.search = query;
    return u.toString();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  #accept(client: net.Socket, target: { host: string; port: number }): void {
    this.#track(client);
    client.once('readable', () => {
      const head = client.read(8) as Buffer | null;
      if (!head || head.readInt32BE(0) !== 8 || head.readInt32BE(4) !== SSL_REQUEST) {
        // Only TLS gets through: a client that did not ask for it is proof that ssl options were lost.
        this.#plainRefused += 1;
        client.destroy();
        return;
      }
      client.write('S');
      const secure = new tls.TLSSocket(client, { isServer: true, key: this.cert.key, cert: this.cert.cert });
      this.#track(secure);
      secure.once('secure', () => {
        this.#tlsSessions += 1;
        const upstream = net.connect(target);
        this.#track(upstream);
        secure.pipe(upstream).pipe(secure);
        upstream.on('close', () => secure.destroy());
        secure.on('close', () => upstream.destroy());
      });
    });
  }
}
