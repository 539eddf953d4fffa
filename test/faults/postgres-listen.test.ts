import { afterEach, describe, expect, it } from 'vitest';
import { PgConnection } from '../../adapters/postgres/connection.js';
import type { ListenOptions } from '../../adapters/postgres/listen-options.js';
import { listen } from '../../adapters/postgres/listen.js';
import type { Subscription } from '../../adapters/postgres/subscription.js';
import { Deadline } from '../../src/internal/index.js';
import { connectSettings } from '../integration/postgres/connection-harness.js';
import { uniqueName } from '../support/names.js';
import { withPgClient } from '../support/pg.js';
import { ChaosProxy } from '../support/proxy.js';
import { databaseUrl } from '../support/services.js';
import { until } from '../support/async.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A subscription whose connections go through a ChaosProxy. */
async function viaProxy(opts: ListenOptions = {}) {
  const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
  cleanup.push(() => proxy.close());
  const url = proxy.rewrite(databaseUrl());
  const channel = uniqueName('fault');
  const errors: unknown[] = [];
  const settings = connectSettings({ url, connectTimeout: 500 });
  const sub = await listen(
    (signal) => PgConnection.open(settings, { signal, deadline: Deadline.NEVER }),
    channel,
    { reconnect: { initialDelay: 20, maxDelay: 200 }, onError: (e) => errors.push(e), ...opts },
  );
  cleanup.push(() => sub.close());
  return { proxy, sub, channel, errors };
}

/** Sends NOTIFYs directly (not through the proxy) until the subscription yields one. */
async function receivesAgain(sub: Subscription, channel: string): Promise<string> {
  let got: string | undefined;
  void sub.next().then((r) => (got = r.value?.payload));
  for (let i = 0; i < 300 && got === undefined; i++) {
    await withPgClient(databaseUrl(), (c) => c.query('select pg_notify($1, $2)', [channel, `n${i}`]));
    await new Promise((r) => setTimeout(r, 50));
  }
  if (got === undefined) throw new Error('no notification after the fault');
  return got;
}

describe('Subscription (faults)', () => {
  it('reconnects after every connection is cut', async () => {
    const { proxy, sub, channel } = await viaProxy();
    expect(proxy.cutAll()).toBe(1);
    expect(await receivesAgain(sub, channel)).toMatch(/^n\d+$/);
    expect(sub.reconnects).toBe(1);
  });

  it('keeps retrying with backoff while the server refuses, then resumes', async () => {
    const { proxy, sub, channel, errors } = await viaProxy();
    proxy.refuse(true);
    proxy.cutAll();
    await until(() => errors.length >= 3, 20_000, 'the loss and two failed attempts');
    expect(errors.length).toBeGreaterThanOrEqual(3); // the loss, then failed attempts
    expect(sub.reconnects).toBe(0);
    proxy.refuse(false);
    expect(await receivesAgain(sub, channel)).toMatch(/^n\d+$/);
    expect(sub.reconnects).toBe(1);
  });

  it('detects a silently dead peer with the heartbeat and reconnects', async () => {
    const { proxy, sub, channel, errors } = await viaProxy({ heartbeat: 150 });
    proxy.stall(true);
    await until(() => errors.length > 0, 20_000, 'the heartbeat to report the dead peer');
    expect(String(errors[0])).toMatch(/heartbeat/);
    proxy.stall(false);
    expect(await receivesAgain(sub, channel)).toMatch(/^n\d+$/);
    expect(sub.reconnects).toBeGreaterThanOrEqual(1);
  });
});
