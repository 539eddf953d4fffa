/**
 * sendCancelRequest() reports a cancel done only once the server has taken it: a late CancelRequest
 * would cancel the connection's next statement instead.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendCancelRequest } from '../../../adapters/postgres/cancel-request.js';
import { ChaosProxy } from '../../support/proxy.js';

/** A stand-in postmaster: reads the 16-byte CancelRequest, then closes after `closeAfter` ms. */
async function fakePostmaster(closeAfter: number): Promise<{ server: net.Server; received: number[] }> {
  const received: number[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (packet: Buffer) => {
      expect(packet.readInt32BE(0)).toBe(16);
      expect(packet.readInt32BE(4)).toBe(80877102);
      received.push(performance.now());
      setTimeout(() => socket.end(), closeAfter);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, received };
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('sendCancelRequest()', () => {
  it('resolves only after the server took the request and closed, even through a proxy that mirrors FINs', async () => {
    const { server, received } = await fakePostmaster(100);
    closers.push(() => new Promise((r) => server.close(r)));
    const proxy = await ChaosProxy.start({
      host: '127.0.0.1',
      port: (server.address() as net.AddressInfo).port,
    });
    closers.push(() => proxy.close());
    proxy.setLatency(50); // the packet reaches the server late: a premature "done" would be visible
    await sendCancelRequest({ host: '127.0.0.1', port: proxy.port, processID: 42, secretKey: 7 });
    const resolvedAt = performance.now();
    expect(received).toHaveLength(1);
    expect(received[0]!).toBeLessThan(resolvedAt);
  });

  it('rejects when nothing answers within its timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => {
      s.on('error', () => undefined);
      sockets.push(s);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => silent.close(r));
    });
    const port = (silent.address() as net.AddressInfo).port;
    await expect(
      sendCancelRequest({ host: '127.0.0.1', port, processID: 1, secretKey: 1 }, 100),
    ).rejects.toThrow(/timed out/);
  });
});
