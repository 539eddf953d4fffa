/**
 * Free TCP ports for a local cluster, chosen when it boots.
 *
 * Picked at random in 20000–29999 rather than from the kernel (port 0): kernel-chosen ports come
 * from the ephemeral range, where any outgoing connection may take them between our check and the
 * node's bind; and the CLI talks from `dist port + 10000 … + 10010`, which must stay below 65536.
 */
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { CLUSTER_SIZE } from './descriptor.js';
import type { ClusterPorts } from './layout.js';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` distinct ports free on 127.0.0.1 right now.
 *
 * @example
 * ```ts
 * const [a, b] = await freePorts(2);
 * ```
 */
export async function freePorts(count: number): Promise<number[]> {
  const chosen = new Set<number>();
  for (let tries = 0; chosen.size < count; tries += 1) {
    if (tries > 1000) throw new Error(`no ${count} free ports found in 20000-29999`);
    const port = randomInt(20_000, 30_000);
    if (!chosen.has(port) && (await canListen(port))) chosen.add(port);
  }
  return [...chosen];
}

/**
 * Ports for epmd and for each node's AMQP and distribution listeners.
 *
 * @example
 * ```ts
 * const ports = await chooseClusterPorts(); // { epmd, amqp: [a, b, c], dist: [x, y, z] }
 * ```
 */
export async function chooseClusterPorts(): Promise<ClusterPorts> {
  const ports = await freePorts(1 + 2 * CLUSTER_SIZE);
  return {
    epmd: ports[0]!,
    amqp: ports.slice(1, 1 + CLUSTER_SIZE),
    dist: ports.slice(1 + CLUSTER_SIZE),
  };
}
