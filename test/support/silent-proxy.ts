/**
 * SilentProxy: a TCP forwarder that can go silent the way a partitioned network does. `silence()`
 * drops the upstream side and keeps the client's socket open without sending a byte, a FIN or a
 * RST — so only the client's own liveness checks (heartbeats, timeouts) can find out. ChaosProxy's
 * `stall` still passes the server's close on to the client; this one does not.
 */
import net from 'node:net';

export class SilentProxy {
  readonly #server: net.Server;
  readonly #target: { host: string; port: number };
  readonly #clients = new Set<net.Socket>();
  #silent = false;

  private constructor(server: net.Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (socket) => this.#accept(socket));
    server.on('error', () => undefined);
  }

  /** Starts on 127.0.0.1 at a free port in front of the host and port of `url`. */
  static async forUrl(url: string, defaultPort: number): Promise<SilentProxy> {
    const u = new URL(url);
    const server = net.createServer();
    const proxy = new SilentProxy(server, {
      host: u.hostname || '127.0.0.1',
      port: Number(u.port || defaultPort),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The same URL, pointed at the proxy. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String((this.#server.address() as net.AddressInfo).port);
    return u.toString();
  }

  /** From now on: live connections and new ones hear nothing and their upstream is gone. */
  silence(on = true): void {
    this.#silent = on;
    if (on) for (const client of this.#clients) client.emit('connkit:silence');
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.destroy();
    this.#clients.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    client.on('error', () => undefined);
    this.#clients.add(client);
    client.on('close', () => this.#clients.delete(client));
    client.on('data', () => undefined); // swallowed while silent; piped otherwise (below)
    if (this.#silent) return;
    const upstream = net.connect(this.#target);
    upstream.on('error', () => undefined);
    let silent = false;
    client.once('connkit:silence', () => {
      silent = true;
      upstream.destroy();
    });
    client.on('data', (chunk: Buffer) => {
      if (!silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!silent) client.write(chunk);
    });
    upstream.on('close', () => {
      if (!silent) client.destroy();
    });
    client.on('close', () => upstream.destroy());
  }
}
