/**
 * Chaos for the demo: cuts database and broker connections at random moments, through TCP proxies
 * in front of both services and with server-side kills (pg_terminate_backend). On a cluster whose
 * nodes it controls it also SIGKILLs (or gracefully stops) one node at a time and starts it again,
 * so the Broker fails over between nodes while the pipeline runs.
 */
import pg from 'pg';
import { sleep } from '../../src/timeout.js';
import { ChaosProxy } from '../../test/support/proxy.js';

/** Node control of a cluster (the test harness's RabbitCluster has it). */
export interface NodeControl {
  readonly size: number;
  kill(i: number): Promise<void>;
  stop(i: number): Promise<void>;
  start(i: number): Promise<void>;
}

export interface Chaos {
  databaseUrl: string;
  /** The broker URLs to use: proxied, or the nodes themselves when nodes are killed instead. */
  amqpUrls: string[];
  /** Faults injected so far. */
  readonly faults: number;
  /** Of those, nodes killed or stopped. */
  readonly nodeFaults: number;
  /** Injects faults until `signal` aborts; resolves once every node it took down runs again. */
  run(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

const noop = (): void => undefined;

/**
 * Puts proxies in front of PostgreSQL (and of every broker URL when `nodes` is not given);
 * `run()` then injects faults every 0.3–1.5 s (the first sooner) and, with `nodes`, takes one
 * node down every few seconds — SIGKILL mostly, a graceful stop sometimes — for 1.5–3 s.
 */
export async function createChaos(
  databaseUrl: string,
  amqpUrls: string[],
  applicationName: string,
  nodes?: NodeControl,
  /** The node the application is connected to, hit every other time (random otherwise). */
  busyNode?: () => number | undefined,
): Promise<Chaos> {
  const pgProxy = await ChaosProxy.forUrl(databaseUrl, 5432);
  const amqpProxies = nodes ? [] : await Promise.all(amqpUrls.map((url) => ChaosProxy.forUrl(url, 5672)));
  let faults = 0;
  let nodeFaults = 0;
  const terminate = async (): Promise<void> => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    admin.on('error', noop);
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
    terminate,
    ...amqpProxies.map((proxy) => () => void proxy.cutAll()),
  ];
  const connectionChaos = async (signal: AbortSignal): Promise<void> => {
    // The first fault comes early, so even a short run sees one.
    let pause = 100 + Math.random() * 200;
    while (!signal.aborted) {
      await sleep(pause, { signal }).catch(noop);
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
  };
  const nodeChaos = async (control: NodeControl, signal: AbortSignal): Promise<void> => {
    let pause = 200 + Math.random() * 300; // early, so even a short run loses a node
    while (!signal.aborted) {
      await sleep(pause, { signal }).catch(noop);
      pause = 2_000 + Math.random() * 2_000;
      if (signal.aborted) break;
      const random = Math.floor(Math.random() * control.size);
      const node = Math.random() < 0.5 ? (busyNode?.() ?? random) : random;
      // One node down at a time: the other two keep every quorum queue's majority.
      if (Math.random() < 0.75) await control.kill(node);
      else await control.stop(node);
      faults += 1;
      nodeFaults += 1;
      await sleep(1_500 + Math.random() * 1_500, { signal }).catch(noop);
      await control.start(node); // also after the abort: the run ends with every node up
    }
  };
  return {
    databaseUrl: pgProxy.rewrite(databaseUrl),
    amqpUrls: nodes ? amqpUrls : amqpProxies.map((proxy, i) => proxy.rewrite(amqpUrls[i]!)),
    get faults() {
      return faults;
    },
    get nodeFaults() {
      return nodeFaults;
    },
    async run(signal) {
      await Promise.all([connectionChaos(signal), nodes ? nodeChaos(nodes, signal) : undefined]);
    },
    async close() {
      await Promise.all([pgProxy.close(), ...amqpProxies.map((proxy) => proxy.close())]);
    },
  };
}
