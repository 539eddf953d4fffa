/**
 * Finds PostgreSQL and RabbitMQ for the tests (global setup), the demo (`npm run demo`) and the
 * benches (`npm run bench`) — one resolution, shared by all three.
 *
 * Order:
 *   1. `DATABASE_URL` and `AMQP_URL` from the environment (both, or it is an error);
 *   2. a Docker engine that answers: containers started with testcontainers, stopped by `stop()`;
 *   3. the standard local ports, when a real login works there: PostgreSQL on 127.0.0.1:5432 as
 *      user `postgres` (database `test`, else `postgres`; `PGPASSWORD` is honoured by pg) and
 *      RabbitMQ on 127.0.0.1:5672 as guest/guest;
 *   4. otherwise one {@link ServicesUnavailableError} naming the ways to provide them and what
 *      each local login answered.
 * The step that found the services is said in one log line. Every check is bounded: on a machine
 * without Docker the Docker check costs the import of testcontainers (~0.3 s) and little else.
 * @module
 */
import amqp from 'amqplib';
import pg from 'pg';
import { redactUrl } from '../../adapters/amqp/options.js';
import { TimeoutError } from '../../src/errors.js';
import { waitFor } from '../../src/timeout.js';

/** PostgreSQL URLs tried on the standard local port, in order. */
export const LOCAL_DATABASE_URLS = [
  'postgres://postgres@127.0.0.1:5432/test',
  'postgres://postgres@127.0.0.1:5432/postgres',
] as const;
/** RabbitMQ URL tried on the standard local port. */
export const LOCAL_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** Bound of one login attempt (connect, authenticate, answer). */
export const LOGIN_TIMEOUT_MS = 2_000;
/** Bound of the Docker engine check (a socket that exists but never answers must not stall us). */
export const DOCKER_TIMEOUT_MS = 2_000;

const POSTGRES_IMAGE = 'postgres:17-alpine';
const RABBITMQ_IMAGE = 'rabbitmq:4-management-alpine';

/** Where the services were found. */
export type ServiceSource = 'env' | 'containers' | 'local';

/** The services to use, and how to stop what the resolution started. */
export interface ResolvedServices {
  databaseUrl: string;
  amqpUrl: string;
  source: ServiceSource;
  /** Stops what the resolution started (the containers); a no-op otherwise. */
  stop(): Promise<void>;
}

/** The checks behind each step; tests replace them to pin the order without real services. */
export interface ServiceProbes {
  /** True when a Docker engine answers. */
  dockerAnswers(): Promise<boolean>;
  /** Starts PostgreSQL and RabbitMQ containers. */
  startContainers(log: (line: string) => void): Promise<ResolvedServices>;
  /** Resolves when a login at `url` works and `select 1` answers; rejects with why not. */
  loginPostgres(url: string): Promise<void>;
  /** Resolves when an AMQP connection to `url` opens; rejects with why not. */
  loginAmqp(url: string): Promise<void>;
}

/** Options of {@link resolveServices}. */
export interface ResolveOptions {
  /** Where `DATABASE_URL` and `AMQP_URL` are read. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the one line saying how the services were found goes. */
  log?: (line: string) => void;
  /** Replacements for the real checks (tests). */
  probes?: Partial<ServiceProbes>;
}

/**
 * No way to reach the services: the message says how to provide them.
 *
 * @example
 * ```ts
 * try { await resolveServices(); } catch (e) { if (e instanceof ServicesUnavailableError) console.error(e.message); }
 * ```
 */
export class ServicesUnavailableError extends Error {
  override name = 'ServicesUnavailableError';
}

const HOW_TO = [
  'connkit needs PostgreSQL and RabbitMQ. Provide them in one of three ways:',
  '  1. run them on the standard local ports: PostgreSQL on 127.0.0.1:5432 accepting user',
  '     "postgres" (database "test" or "postgres"), RabbitMQ on 127.0.0.1:5672 with guest/guest;',
  '  2. start a Docker engine: postgres:17-alpine and rabbitmq:4-management-alpine are then run',
  '     with testcontainers and stopped afterwards;',
  '  3. set DATABASE_URL and AMQP_URL, e.g.',
  '       DATABASE_URL=postgres://postgres@127.0.0.1:5432/test AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm test',
].join('\n');

/**
 * Resolves the services in the order of this module's documentation.
 *
 * @example
 * ```ts
 * const services = await resolveServices({ log: (line) => console.log(`[services] ${line}`) });
 * try { run(services.databaseUrl, services.amqpUrl); } finally { await services.stop(); }
 * ```
 */
export async function resolveServices(opts: ResolveOptions = {}): Promise<ResolvedServices> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  const probes: ServiceProbes = { ...realProbes, ...opts.probes };
  const { DATABASE_URL, AMQP_URL } = env;
  if (DATABASE_URL && AMQP_URL) {
    log(`from DATABASE_URL and AMQP_URL: ${redactUrl(DATABASE_URL)}, ${redactUrl(AMQP_URL)}`);
    return { databaseUrl: DATABASE_URL, amqpUrl: AMQP_URL, source: 'env', stop: async () => undefined };
  }
  if (DATABASE_URL || AMQP_URL) {
    throw new ServicesUnavailableError(
      `Only ${DATABASE_URL ? 'DATABASE_URL' : 'AMQP_URL'} is set; set both.\n\n${HOW_TO}`,
    );
  }
  if (await probes.dockerAnswers()) return probes.startContainers(log);
  const [database, broker] = await Promise.all([
    firstLogin(LOCAL_DATABASE_URLS, probes.loginPostgres),
    firstLogin([LOCAL_AMQP_URL], probes.loginAmqp),
  ]);
  if (database.url !== undefined && broker.url !== undefined) {
    log(
      `no DATABASE_URL/AMQP_URL, no Docker engine; local services answer: ${redactUrl(database.url)}, ${redactUrl(broker.url)}`,
    );
    return { databaseUrl: database.url, amqpUrl: broker.url, source: 'local', stop: async () => undefined };
  }
  throw new ServicesUnavailableError(
    [
      'No DATABASE_URL/AMQP_URL, no Docker engine answers, and the local services do not both answer:',
      `  PostgreSQL: ${database.url === undefined ? database.why : `${redactUrl(database.url)} answers`}`,
      `  RabbitMQ:   ${broker.url === undefined ? broker.why : `${redactUrl(broker.url)} answers`}`,
      '',
      HOW_TO,
    ].join('\n'),
  );
}

/** The first URL whose login works, or why none did. */
async function firstLogin(
  urls: readonly string[],
  login: (url: string) => Promise<void>,
): Promise<{ url: string; why?: never } | { url?: never; why: string }> {
  const failures: string[] = [];
  for (const url of urls) {
    try {
      await login(url);
      return { url };
    } catch (err) {
      failures.push(`${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { why: failures.join('; ') };
}

/**
 * True when a Docker engine answers testcontainers' detection within {@link DOCKER_TIMEOUT_MS}.
 *
 * @example
 * ```ts
 * if (await dockerAnswers()) console.log('containers can be started');
 * ```
 */
export async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await waitFor(getContainerRuntimeClient(), DOCKER_TIMEOUT_MS);
    return true;
  } catch {
    return false; // no engine, or one that does not answer in time: the next step decides
  }
}

/**
 * Starts PostgreSQL and RabbitMQ containers with testcontainers.
 *
 * @example
 * ```ts
 * const services = await startContainers(console.log);
 * await services.stop();
 * ```
 */
export async function startContainers(log: (line: string) => void): Promise<ResolvedServices> {
  const [{ PostgreSqlContainer }, { RabbitMQContainer }] = await Promise.all([
    import('@testcontainers/postgresql'),
    import('@testcontainers/rabbitmq'),
  ]);
  log(`no DATABASE_URL/AMQP_URL; a Docker engine answers: starting ${POSTGRES_IMAGE} and ${RABBITMQ_IMAGE}`);
  const [postgres, rabbit] = await Promise.all([
    new PostgreSqlContainer(POSTGRES_IMAGE).start(),
    new RabbitMQContainer(RABBITMQ_IMAGE).start(),
  ]);
  return {
    databaseUrl: postgres.getConnectionUri(),
    amqpUrl: rabbit.getAmqpUrl(),
    source: 'containers',
    stop: async () => {
      await Promise.allSettled([postgres.stop(), rabbit.stop()]);
    },
  };
}

/**
 * Logs in to PostgreSQL at `url` and runs `select 1`, within {@link LOGIN_TIMEOUT_MS}; rejects
 * with why not (refused, no such database, authentication failed, no answer in time).
 *
 * @example
 * ```ts
 * await loginPostgres('postgres://postgres@127.0.0.1:5432/test');
 * ```
 */
export function loginPostgres(url: string): Promise<void> {
  return bounded(async (signal) => {
    // One bound for the whole login (waitFor's): at the deadline the signal ends the client.
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined); // a failure is reported by connect() or query()
    const giveUp = (): void => void client.end().catch(() => undefined);
    signal.addEventListener('abort', giveUp);
    try {
      await client.connect();
      await client.query('select 1');
    } finally {
      signal.removeEventListener('abort', giveUp);
      await client.end().catch(() => undefined);
    }
  });
}

/**
 * Opens (and closes) an AMQP connection to `url` within {@link LOGIN_TIMEOUT_MS}; rejects with why
 * not (refused, access refused, no answer in time).
 *
 * @example
 * ```ts
 * await loginAmqp('amqp://guest:guest@127.0.0.1:5672');
 * ```
 */
export function loginAmqp(url: string): Promise<void> {
  return bounded(async () => {
    // amqplib cannot abandon a connect in progress: one that opens after the deadline is closed
    // here all the same.
    const connection = await amqp.connect(url, { timeout: LOGIN_TIMEOUT_MS });
    connection.on('error', () => undefined);
    await connection.close().catch(() => undefined);
  });
}

async function bounded(login: (signal: AbortSignal) => Promise<void>): Promise<void> {
  try {
    await waitFor(login, LOGIN_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof TimeoutError) throw new Error(`no answer within ${LOGIN_TIMEOUT_MS} ms`);
    throw err;
  }
}

const realProbes: ServiceProbes = { dockerAnswers, startContainers, loginPostgres, loginAmqp };
