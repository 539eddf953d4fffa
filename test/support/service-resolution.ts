/**
 * Finds PostgreSQL and RabbitMQ for the test suite and the demo — one resolution, shared.
 *
 * Order: (a) `DATABASE_URL` / `AMQP_URL` from the environment; (b) containers via testcontainers
 * when a Docker engine answers; (c) optionally (the demo) the local defaults of docker-compose when
 * they answer; otherwise one clear error naming the ways to provide the services.
 */
import net from 'node:net';

export interface ResolvedServices {
  databaseUrl: string;
  amqpUrl: string;
  /** How the services were found: 'env', 'containers' or 'local'. */
  source: 'env' | 'containers' | 'local';
  /** Stops what the resolution started (containers); a no-op otherwise. */
  stop(): Promise<void>;
}

export interface ResolveOptions {
  /** Try `localhost:5432` / `localhost:5672` (docker-compose defaults) before giving up. */
  localDefaults?: boolean;
  /** Where progress lines go. */
  log?: (line: string) => void;
}

export const LOCAL_DATABASE_URL = 'postgres://postgres:postgres@localhost:5432/postgres';
export const LOCAL_AMQP_URL = 'amqp://guest:guest@localhost:5672';

export class ServicesUnavailableError extends Error {
  override name = 'ServicesUnavailableError';
}

const HOW_TO = [
  'connkit needs PostgreSQL and RabbitMQ. Provide them in one of three ways:',
  '  1. set DATABASE_URL and AMQP_URL, e.g.',
  '       DATABASE_URL=postgres://postgres@127.0.0.1:5432/test AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm test',
  '  2. start a Docker engine: the tests then run postgres:17-alpine and rabbitmq:4-management-alpine',
  '     with testcontainers and stop them afterwards;',
  '  3. run `docker compose up -d` (docker-compose.yml) and set the URLs it prints in README.md.',
].join('\n');

/** True when something accepts TCP connections at host:port within `ms`. */
export function portAnswers(host: string, port: number, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(log: (line: string) => void): Promise<ResolvedServices> {
  const [{ PostgreSqlContainer }, { RabbitMQContainer }] = await Promise.all([
    import('@testcontainers/postgresql'),
    import('@testcontainers/rabbitmq'),
  ]);
  log('starting postgres:17-alpine and rabbitmq:4-management-alpine with testcontainers…');
  const [pg, rabbit] = await Promise.all([
    new PostgreSqlContainer('postgres:17-alpine').start(),
    new RabbitMQContainer('rabbitmq:4-management-alpine').start(),
  ]);
  return {
    databaseUrl: pg.getConnectionUri(),
    amqpUrl: rabbit.getAmqpUrl(),
    source: 'containers',
    stop: async () => {
      await Promise.allSettled([pg.stop(), rabbit.stop()]);
    },
  };
}

/** Resolves the services in the documented order, or throws {@link ServicesUnavailableError}. */
export async function resolveServices(opts: ResolveOptions = {}): Promise<ResolvedServices> {
  const log = opts.log ?? (() => undefined);
  const { DATABASE_URL, AMQP_URL } = process.env;
  if (DATABASE_URL && AMQP_URL) {
    return { databaseUrl: DATABASE_URL, amqpUrl: AMQP_URL, source: 'env', stop: async () => undefined };
  }
  if (DATABASE_URL || AMQP_URL) {
    throw new ServicesUnavailableError(
      `Only ${DATABASE_URL ? 'DATABASE_URL' : 'AMQP_URL'} is set; set both.\n\n${HOW_TO}`,
    );
  }
  if (await dockerAnswers()) return startContainers(log);
  if (opts.localDefaults) {
    const [pgUp, amqpUp] = await Promise.all([
      portAnswers('localhost', 5432),
      portAnswers('localhost', 5672),
    ]);
    if (pgUp && amqpUp) {
      return {
        databaseUrl: LOCAL_DATABASE_URL,
        amqpUrl: LOCAL_AMQP_URL,
        source: 'local',
        stop: async () => undefined,
      };
    }
  }
  throw new ServicesUnavailableError(`No DATABASE_URL/AMQP_URL and no Docker engine answers.\n\n${HOW_TO}`);
}
