/**
 * The order in which the tests, the demo and the benches find their services, with every check
 * replaced: nothing here depends on the machine's Docker engine or local servers.
 */
import { describe, expect, it, vi, type Mock } from 'vitest';
import {
  LOCAL_AMQP_URL,
  LOCAL_DATABASE_URLS,
  resolveServices,
  ServicesUnavailableError,
  type ResolvedServices,
  type ServiceProbes,
} from '../../support/service-resolution.js';
import { rejectionOf } from '../../support/async.js';

const refused = (url: string): Promise<void> => Promise.reject(new Error(`connect ECONNREFUSED (${url})`));

/** Probes that record their calls; by default nothing answers. */
function probes(overrides: { [K in keyof ServiceProbes]?: Mock<ServiceProbes[K]> } = {}) {
  const containers: ResolvedServices = {
    databaseUrl: 'postgres://test:test@localhost:32768/test',
    amqpUrl: 'amqp://guest:guest@localhost:32769',
    source: 'containers',
    stop: async () => undefined,
  };
  return {
    dockerAnswers: overrides.dockerAnswers ?? vi.fn(async () => false),
    startContainers: overrides.startContainers ?? vi.fn(async () => containers),
    loginPostgres: overrides.loginPostgres ?? vi.fn(refused),
    loginAmqp: overrides.loginAmqp ?? vi.fn(refused),
  };
}

describe('resolveServices()', () => {
  it('takes DATABASE_URL and AMQP_URL from the environment first, and checks nothing else', async () => {
    const p = probes({ dockerAnswers: vi.fn(async () => true), loginPostgres: vi.fn(async () => undefined) });
    const log: string[] = [];
    const services = await resolveServices({
      env: { DATABASE_URL: 'postgres://u:secret@db:5432/app', AMQP_URL: 'amqp://u:secret@mq:5672' },
      log: (line) => log.push(line),
      probes: p,
    });
    expect(services).toMatchObject({
      source: 'env',
      databaseUrl: 'postgres://u:secret@db:5432/app',
      amqpUrl: 'amqp://u:secret@mq:5672',
    });
    expect(p.dockerAnswers).not.toHaveBeenCalled();
    expect(p.loginPostgres).not.toHaveBeenCalled();
    expect(p.loginAmqp).not.toHaveBeenCalled();
    expect(log).toEqual([
      'from DATABASE_URL and AMQP_URL: postgres://u:***@db:5432/app, amqp://u:***@mq:5672',
    ]);
  });

  it('refuses only one of the two URLs, naming the missing one', async () => {
    const err = await rejectionOf(resolveServices({ env: { AMQP_URL: 'amqp://mq' }, probes: probes() }));
    expect(err).toBeInstanceOf(ServicesUnavailableError);
    expect((err as Error).message).toMatch(/^Only AMQP_URL is set; set both\./);
  });

  it('starts containers when no URL is set and a Docker engine answers, before trying local ports', async () => {
    const p = probes({ dockerAnswers: vi.fn(async () => true), loginPostgres: vi.fn(async () => undefined) });
    const services = await resolveServices({ env: {}, probes: p });
    expect(services.source).toBe('containers');
    expect(p.startContainers).toHaveBeenCalledOnce();
    expect(p.loginPostgres).not.toHaveBeenCalled();
    expect(p.loginAmqp).not.toHaveBeenCalled();
  });

  it('uses the standard local ports when no URL is set, no Docker engine answers and both logins work', async () => {
    const p = probes({
      loginPostgres: vi.fn(async () => undefined),
      loginAmqp: vi.fn(async () => undefined),
    });
    const log: string[] = [];
    const services = await resolveServices({ env: {}, log: (line) => log.push(line), probes: p });
    expect(services).toMatchObject({
      source: 'local',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
    });
    expect(p.dockerAnswers).toHaveBeenCalledOnce();
    expect(p.startContainers).not.toHaveBeenCalled();
    expect(p.loginPostgres.mock.calls).toEqual([[LOCAL_DATABASE_URLS[0]]]);
    expect(p.loginAmqp.mock.calls).toEqual([[LOCAL_AMQP_URL]]);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(
      /no Docker engine; local services answer: postgres:\/\/postgres@127\.0\.0\.1:5432\/test/,
    );
    expect(log[0]).not.toContain('guest:guest');
  });

  it('falls back to database "postgres" when the local "test" database refuses the login', async () => {
    const p = probes({
      loginPostgres: vi.fn(async (url: string) => {
        if (url.endsWith('/test')) throw new Error('database "test" does not exist');
      }),
      loginAmqp: vi.fn(async () => undefined),
    });
    const services = await resolveServices({ env: {}, probes: p });
    expect(services.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(p.loginPostgres.mock.calls).toEqual([[LOCAL_DATABASE_URLS[0]], [LOCAL_DATABASE_URLS[1]]]);
  });

  it('fails with one message naming the three ways, and what each local login answered, when nothing answers', async () => {
    const p = probes({ loginAmqp: vi.fn(async () => undefined) }); // RabbitMQ alone is not enough
    const err = await rejectionOf(resolveServices({ env: {}, probes: p }));
    expect(err).toBeInstanceOf(ServicesUnavailableError);
    const message = (err as Error).message;
    expect(message).toMatch(/^No DATABASE_URL\/AMQP_URL, no Docker engine answers, and the local services/);
    expect(message).toContain('PostgreSQL: postgres://postgres@127.0.0.1:5432/test: connect ECONNREFUSED');
    expect(message).toContain('postgres://postgres@127.0.0.1:5432/postgres: connect ECONNREFUSED');
    expect(message).toContain('RabbitMQ:   amqp://guest:***@127.0.0.1:5672 answers');
    expect(message).toMatch(/standard local ports[\s\S]*Docker engine[\s\S]*set DATABASE_URL and AMQP_URL/);
    expect(p.startContainers).not.toHaveBeenCalled();
  });
});
