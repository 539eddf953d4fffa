/**
 * Chaos for the demo: cuts database and broker connections at random moments, through TCP proxies
 * in front of both services and with server-side kills (pg_terminate_backend).
 */
import pg from 'pg';
import { sleep } from '../../src/timeout.js';
import { ChaosProxy } from '../../test/support/proxy.js';

export interface Chaos {
  databaseUrl: string;
  amqpUrl: string;
  /** Faults injected so far. */
  readonly faults: number;
  /** Starts cutting at random moments until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Puts proxies in front of both services; `run()` then injects faults every 0.3–1.5 s (the first sooner). */
export async function createChaos(
  databaseUrl: string,
  amqpUrl: string,
  applicationName: string,
): Promise<Chaos> {
  const pgProxy = await ChaosProxy.forUrl(databaseUrl, 5432);
  const amqpProxy = await ChaosProxy.forUrl(amqpUrl, 5672);
  let faults = 0;
  const terminate = async (): Promise<void> => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
        [applicationName],
      );
    } finally {
      await admin.end();
    }
  };
  const actions: (() => Promise<void> | void)[] = [
    () => void pgProxy.cutAll(),
    () => void amqpProxy.cutAll(),
    terminate,
  ];
  return {
    databaseUrl: pgProxy.rewrite(databaseUrl),
    amqpUrl: amqpProxy.rewrite(amqpUrl),
    get faults() {
      return faults;
    },
    async run(signal) {
      // The first fault comes early, so even a short run sees one.
      let pause = 100 + Math.random() * 200;
      while (!signal.aborted) {
        await sleep(pause, { signal }).catch(() => undefined);
        pause = 300 + Math.random() * 1200;
        if (signal.aborted) break;
        const action = actions[Math.floor(Math.random() * actions.length)]!;
        try {
          await action();
          faults += 1;
        } catch {
          // a failed kill is not a fault injected; the run goes on
        }
      }
    },
    async close() {
      await Promise.all([pgProxy.close(), amqpProxy.close()]);
    },
  };
}
