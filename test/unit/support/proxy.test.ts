import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../support/async.js';
import { ChaosProxy } from '../../support/proxy.js';

/** An echo server, so the proxy can be tested without any real service. */
async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

function nextData(s: net.Socket, ms = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no data')), ms);
    s.once('data', (d: Buffer) => {
      clearTimeout(t);
      resolve(d.toString());
    });
  });
}

function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

describe('ChaosProxy', () => {
  let server: net.Server;
  let proxy: ChaosProxy;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    server = await echoServer();
    proxy = await ChaosProxy.start({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await proxy.close();
    await new Promise((r) => server.close(r));
  });

  async function client(): Promise<net.Socket> {
    const s = await connect(proxy.port);
    s.on('error', () => undefined);
    sockets.push(s);
    return s;
  }

  it('forwards bytes both ways and counts live connections', async () => {
    const s = await client();
    s.write('hello');
    expect(await nextData(s)).toBe('hello');
    expect(proxy.connections).toBe(1);
  });

  it('cutAll() closes every live connection', async () => {
    const [a, b] = [await client(), await client()];
    a.write('x');
    await nextData(a);
    b.write('y');
    await nextData(b);
    expect(proxy.cutAll()).toBe(2);
    await Promise.all([closed(a), closed(b)]);
    expect(proxy.connections).toBe(0);
  });

  it('refuse() closes new connections until turned off', async () => {
    proxy.refuse(true);
    // Refused: the connection is reset, either during connect or right after it.
    const outcome = await connect(proxy.port).then(
      async (s) => {
        s.on('error', () => undefined);
        s.write('lost');
        const data = await nextData(s, 300).catch(() => 'nothing');
        await closed(s);
        return data;
      },
      () => 'nothing',
    );
    expect(outcome).toBe('nothing');
    expect(proxy.accepted).toBe(0);
    proxy.refuse(false);
    const t = await client();
    t.write('back');
    expect(await nextData(t)).toBe('back');
  });

  it('stall() holds bytes back and delivers them when released', async () => {
    const s = await client();
    proxy.stall(true);
    s.write('held');
    await expect(nextData(s, 200)).rejects.toThrow('no data');
    proxy.stall(false);
    expect(await nextData(s)).toBe('held');
  });

  it("stall(true, 'replies') lets requests reach the service and holds back only its answers", async () => {
    const received: string[] = [];
    const answering = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.on('data', (d: Buffer) => {
        received.push(d.toString());
        sock.write(`ack ${d.toString()}`);
      });
    });
    await new Promise<void>((r) => answering.listen(0, '127.0.0.1', r));
    const p = await ChaosProxy.start({
      host: '127.0.0.1',
      port: (answering.address() as net.AddressInfo).port,
    });
    try {
      const s = await connect(p.port);
      s.on('error', () => undefined);
      sockets.push(s);
      p.stall(true, 'replies');
      s.write('req');
      await until(() => received.length === 1, 2_000, 'the request at the service');
      expect(received).toEqual(['req']);
      await expect(nextData(s, 200)).rejects.toThrow('no data');
      p.stall(false);
      expect(await nextData(s)).toBe('ack req');
    } finally {
      await p.close();
      await new Promise((r) => answering.close(r));
    }
  });

  it('setLatency() delays delivery', async () => {
    const s = await client();
    proxy.setLatency(150);
    const started = performance.now();
    s.write('slow');
    expect(await nextData(s)).toBe('slow');
    // two hops (there and back) through the proxy, each delayed
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('rewrite() points a URL at the proxy and keeps credentials and path', () => {
    const url = proxy.rewrite('postgres://user:pw@db.example:5432/app?sslmode=disable');
    expect(url).toBe(`postgres://user:pw@127.0.0.1:${proxy.port}/app?sslmode=disable`);
  });

  it('close() is idempotent', async () => {
    await proxy.close();
    await proxy.close();
  });
});
