/**
 * Free TCP ports for the HA harness's servers (the OS picks them).
 */
import net from 'node:net';

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port nobody listens on right now (the OS picks it), other than those in `taken`.
 * @example
 * const port = await freePort([5432]);
 */
export async function freePort(taken: readonly number[] = []): Promise<number> {
  for (;;) {
    const port = await probePort();
    if (!taken.includes(port)) return port;
  }
}
