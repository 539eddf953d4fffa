/**
 * Failover between the URLs of `urls`, on the one test broker seen through proxies (each proxy is
 * "a node"): after a lost connection the next URL is dialled first, a silent peer is caught by the
 * silence watch within about one heartbeat interval, and a node that cannot finish the setup is
 * left for the next one. The cluster project proves the same on three real nodes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../../adapters/amqp/index.js';
import { Connection } from '../../../adapters/amqp/connection.js';
import { redactUrl, resolveBrokerOptions } from '../../../adapters/amqp/options.js';
import { deleteQueues } from '../../support/amqp.js';
import { until } from '../../support/async.js';
import { RecordingLogger } from '../../support/cluster-load.js';
import { uniqueName } from '../../support/names.js';
import { ChaosProxy } from '../../support/proxy.js';
import { amqpUrl } from '../../support/services.js';
import { SilentProxy } from '../../support/silent-proxy.js';

const cleanups: (() => Promise<void>)[] = [];
const queues: string[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await deleteQueues(amqpUrl(), queues.splice(0));
});

async function chaosProxy(): Promise<{ proxy: ChaosProxy; url: string }> {
  const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
  cleanups.push(() => proxy.close());
  return { proxy, url: proxy.rewrite(amqpUrl()) };
}

function broker(urls: string[], extra: Partial<ConstructorParameters<typeof Broker>[0]> = {}): Broker {
  const b = new Broker({ urls, clientName: uniqueName('connkit_failover'), ...extra });
  b.on('error', () => undefined);
  cleanups.push(() => b.close({ timeout: 2_000 }));
  return b;
}

describe('Broker failover across urls', () => {
  it('reconnects to the next URL after its connection is lost — the lost one is dialled last, not first', async () => {
    const a = await chaosProxy();
    const b = await chaosProxy();
    const log = new RecordingLogger();
    const q = uniqueName('q');
    queues.push(q);
    const br = broker([a.url, b.url], { logger: log, topology: { queues: [{ name: q }] } });
    await br.connect();
    expect(br.stats().url).toBe(redactUrl(a.url));

    let t = Date.now();
    a.proxy.cutAll();
    await until(() => br.stats().reconnects === 1 && br.stats().connected, 10_000, 'the first reconnect');
    expect(br.stats().url).toBe(redactUrl(b.url));
    expect(log.dialledAfter(t)).toEqual([redactUrl(b.url)]);

    t = Date.now();
    b.proxy.cutAll();
    await until(() => br.stats().reconnects === 2 && br.stats().connected, 10_000, 'the second reconnect');
    expect(br.stats().url).toBe(redactUrl(a.url));
    expect(log.dialledAfter(t)).toEqual([redactUrl(a.url)]);
    await br.sendToQueue(q, 'after two failovers');
  });

  it('a peer gone silent is caught within about one heartbeat, and the next URL is dialled first (the silent one would hold the connect)', async () => {
    const silent = await SilentProxy.forUrl(amqpUrl(), 5672);
    cleanups.push(() => silent.close());
    const log = new RecordingLogger();
    const q = uniqueName('q');
    queues.push(q);
    const br = broker([silent.rewrite(amqpUrl()), amqpUrl()], {
      heartbeat: 1_000,
      connectTimeout: 10_000,
      logger: log,
      topology: { queues: [{ name: q }] },
    });
    await br.connect();
    expect(br.stats().url).toBe(redactUrl(silent.rewrite(amqpUrl())));
    const t = Date.now();
    silent.silence();
    await until(
      () => br.stats().connected && br.stats().url === redactUrl(amqpUrl()),
      10_000,
      'the next URL',
    );
    const lost = log.after(t).find((l) => l.message === 'connkit/amqp: connection lost, reconnecting');
    // Caught by connkit's own silence watch (after 1–1.5 heartbeats; amqplib alone needs 2–3 and says
    // otherwise), never before a heartbeat of silence, and the next URL dialled first (the silent
    // one would hold the connect for connectTimeout, 10 s, past the wait above). No bound on the
    // time taken: a busy machine runs the watch's timer late (quiet, it takes < 3 s).
    const reason = String(lost?.details['reason']);
    expect(reason).toMatch(/sent nothing for \d+ ms \(heartbeat 1000 ms\)/);
    expect(Number(/sent nothing for (\d+) ms/.exec(reason)?.[1])).toBeGreaterThanOrEqual(1_000);
    expect(log.dialledAfter(t)[0]).toBe(redactUrl(amqpUrl()));
    await br.sendToQueue(q, 'after the silence');
  });

  it('Connection: a node that accepts the connection but cannot finish the setup within connectTimeout is left for the next URL', async () => {
    const a = await chaosProxy();
    const b = await chaosProxy();
    const errors: string[] = [];
    const connected: string[] = [];
    let setups = 0;
    const connection = new Connection(resolveBrokerOptions({ urls: [a.url, b.url], connectTimeout: 500 }), {
      // The first setup never finishes (a quorum queue without a leader, say); the next one does.
      setup: () => (++setups === 1 ? new Promise<void>(() => undefined) : Promise.resolve()),
      connected: (url) => void connected.push(url),
      disconnected: () => undefined,
      blocked: () => undefined,
      unblocked: () => undefined,
      error: (message, err) =>
        void errors.push(`${message}: ${err instanceof Error ? err.message : String(err)}`),
      gaveUp: () => undefined,
    });
    cleanups.push(() => connection.close(2_000));
    // connect() would give up after connectTimeout too: wait longer for the second node.
    await connection.whenReady({ timeout: 5_000 });
    expect(connected).toEqual([redactUrl(b.url)]);
    expect(setups).toBe(2);
    expect(errors.join('\n')).toMatch(/Setting up the connection to .* timed out after 500 ms/);
    await until(() => a.proxy.connections === 0, 5_000, 'the stuck connection closed');
  });
});
