/**
 * The real checks behind the service resolution (test/support/service-resolution.ts): a login,
 * not an open port, and never longer than the bound.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LOGIN_TIMEOUT_MS, loginAmqp, loginPostgres } from '../support/service-resolution.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

const silent: { server: net.Server; sockets: Set<net.Socket> }[] = [];

afterEach(async () => {
  for (const { server, sockets } of silent.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A TCP port that accepts connections and never says a word. */
async function silentPort(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    sockets.add(socket);
  });
  silent.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('loginPostgres()', () => {
  it('resolves against the real server', async () => {
    await expect(loginPostgres(databaseUrl())).resolves.toBeUndefined();
  });

  it('rejects with the server’s reason when the database does not exist', async () => {
    const url = new URL(databaseUrl());
    url.pathname = '/connkit_no_such_database';
    await expect(loginPostgres(url.toString())).rejects.toThrow(/does not exist/);
  });

  it('rejects when nothing listens', async () => {
    await expect(loginPostgres('postgres://postgres@127.0.0.1:1/test')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('rejects within the bound when the port is open but nobody answers', async () => {
    const started = performance.now();
    await expect(loginPostgres(`postgres://postgres@127.0.0.1:${await silentPort()}/test`)).rejects.toThrow(
      `no answer within ${LOGIN_TIMEOUT_MS} ms`,
    );
    expect(performance.now() - started).toBeLessThan(LOGIN_TIMEOUT_MS + 10_000); // a hang guard: a busy machine runs late
  });
});

describe('loginAmqp()', () => {
  it('resolves against the real broker', async () => {
    await expect(loginAmqp(amqpUrl())).resolves.toBeUndefined();
  });

  it('rejects with ACCESS_REFUSED for a wrong password', async () => {
    const url = new URL(amqpUrl());
    url.password = 'connkit-wrong-password';
    await expect(loginAmqp(url.toString())).rejects.toThrow(/ACCESS.REFUSED/);
  });

  it('rejects when nothing listens', async () => {
    await expect(loginAmqp('amqp://guest:guest@127.0.0.1:1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('rejects within the bound when the port is open but nobody answers', async () => {
    const started = performance.now();
    await expect(loginAmqp(`amqp://guest:guest@127.0.0.1:${await silentPort()}`)).rejects.toThrow(
      `no answer within ${LOGIN_TIMEOUT_MS} ms`,
    );
    expect(performance.now() - started).toBeLessThan(LOGIN_TIMEOUT_MS + 10_000); // a hang guard: a busy machine runs late
  });
});
