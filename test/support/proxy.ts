/**
 * ChaosProxy: a small TCP proxy between a client and a real service, for fault tests.
 * It can cut every live connection, refuse new ones, add latency, and stall (keep accepting bytes
 * but forward nothing — a silently dead peer, released again by `stall(false)`).
 */
import net from 'node:net';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export interface ProxyTarget {
  host: string;
  port: number;
}

export class ChaosProxy {
  readonly target: ProxyTarget;
  #server: net.Server;
  #pairs = new Set<Pair>();
  #refusing = false;
  #latency = 0;
  #stalled: 'none' | 'both' | 'replies' = 'none';
  #held: (() => void)[] = [];
  #accepted = 0;

  private constructor(server: net.Server, target: ProxyTarget) {
    this.#server = server;
    this.target = target;
    server.on('connection', (socket) => this.#accept(socket));
    server.on('error', () => undefined);
  }

  /** Starts a proxy on 127.0.0.1 at a free port, forwarding to `target`. */
  static async start(target: ProxyTarget): Promise<ChaosProxy> {
    const server = net.createServer();
    const proxy = new ChaosProxy(server, target);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** Starts a proxy in front of the host and port of a service URL. */
  static forUrl(url: string, defaultPort: number): Promise<ChaosProxy> {
    const u = new URL(url);
    return ChaosProxy.start({ host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) });
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Live proxied connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Connections accepted (and not refused) since start. */
  get accepted(): number {
    return this.#accepted;
  }

  /** The same URL, pointed at the proxy. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Destroys every live connection (both sides see a reset). Returns how many were cut. */
  cutAll(): number {
    const n = this.#pairs.size;
    for (const pair of this.#pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    return n;
  }

  /** While on, new connections are closed as soon as they arrive. */
  refuse(on = true): void {
    this.#refusing = on;
  }

  /** Delays every chunk in both directions by `ms` (order kept). */
  setLatency(ms: number): void {
    this.#latency = ms;
  }

  /**
   * While on, bytes are accepted but held back; turning it off delivers what was held. `'replies'`
   * holds only what the service sends (requests still arrive: a server whose answers are lost).
   */
  stall(on = true, which: 'both' | 'replies' = 'both'): void {
    this.#stalled = on ? which : 'none';
    if (!on) for (const release of this.#held.splice(0)) release();
  }

  /** Cuts everything and stops listening. Idempotent. */
  async close(): Promise<void> {
    this.cutAll();
    this.#held.length = 0;
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.#refusing) {
      client.resetAndDestroy();
      return;
    }
    this.#accepted += 1;
    const upstream = net.connect(this.target);
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    this.#pairs.add(pair);
    const end = (): void => {
      if (!this.#pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    this.#forward(client, upstream, false);
    this.#forward(upstream, client, true);
  }

  #forward(from: net.Socket, to: net.Socket, reply: boolean): void {
    let lastDue = 0;
    from.on('data', (chunk: Buffer) => {
      const send = (): void => {
        if (!to.destroyed) to.write(chunk);
      };
      const deliver = (): void => {
        if (this.#stalled === 'both' || (this.#stalled === 'replies' && reply)) this.#held.push(deliver);
        else send();
      };
      if (this.#latency <= 0 && lastDue <= Date.now()) return deliver();
      lastDue = Math.max(Date.now() + this.#latency, lastDue);
      setTimeout(deliver, lastDue - Date.now());
    });
  }
}
