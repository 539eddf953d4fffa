import { Pool } from 'connkit';
import net from 'node:net';

// Any resource: waiting is FIFO, cancellable and bounded; a failing create rejects the waiter.
await using pool = new Pool<net.Socket>(
  {
    create: (signal) =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: 5432, signal });
        socket.once('connect', () => resolve(socket)).once('error', reject);
      }),
    destroy: async (socket) => void socket.destroy(),
    validate: (socket) => !socket.destroyed,
  },
  { max: 4, acquireTimeout: 2000, idleTimeout: 10_000 },
);
await pool.use(async (socket) => socket.remoteAddress, { timeout: 500 });
console.log(pool.stats()); // { size, idle, borrowed, pending, max, … }
