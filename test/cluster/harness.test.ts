/**
 * Proves the cluster harness: three real nodes forming one cluster, a quorum queue replicated on
 * all of them, and each fault the later cluster tests rely on (SIGKILL + restart, graceful stop,
 * stopped app, SIGSTOP/SIGCONT) doing what it says. Raw amqplib on purpose: this tests the
 * harness, not connkit. Prints the timings (boot, restarts).
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../../src/index.js';
import { deleteQueues, withAmqpChannel } from '../support/amqp.js';
import { uniqueName } from '../support/names.js';
import { clusterSkipReason, rabbitCluster, type RabbitCluster } from '../support/rabbit-cluster.js';
import { until } from '../support/async.js';

async function connect(url: string): Promise<amqp.ChannelModel> {
  // A socket timeout: a node that does not answer fails the step instead of hanging the test.
  const connection = await amqp.connect(url, { timeout: 10_000 });
  connection.on('error', () => undefined);
  return connection;
}

async function timed(what: string, op: () => Promise<void>): Promise<void> {
  const started = Date.now();
  await op();
  console.log(`[cluster] ${what}: ${Date.now() - started} ms`);
}

describe.skipIf(clusterSkipReason())('RabbitCluster on any cluster (local, or AMQP_CLUSTER_URLS)', () => {
  let cluster: RabbitCluster;
  const queue = uniqueName('qq');

  beforeAll(async () => {
    cluster = rabbitCluster();
    await timed('ensureAllRunning() (boots on first use)', () => cluster.ensureAllRunning());
  });

  afterAll(async () => {
    if (cluster !== undefined) await deleteQueues(cluster.urls[0]!, [queue]);
  });

  it('urls: a message published to a quorum queue via node 1 is consumed via node 3', async () => {
    expect(cluster.urls).toHaveLength(3);
    const producer = await connect(cluster.urls[0]!);
    const consumer = await connect(cluster.urls[2]!);
    try {
      const pub = await producer.createConfirmChannel();
      await pub.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      pub.sendToQueue(queue, Buffer.from('via node 1'), { persistent: true });
      await pub.waitForConfirms();

      const sub = await consumer.createChannel();
      await sub.prefetch(1);
      const got = await new Promise<string>((resolve) => {
        void sub.consume(queue, (msg) => {
          if (msg === null) return;
          sub.ack(msg);
          resolve(msg.content.toString());
        });
      });
      expect(got).toBe('via node 1');
    } finally {
      await Promise.allSettled([producer.close(), consumer.close()]);
    }
  });
});

describe.skipIf(clusterSkipReason({ control: true }))('RabbitCluster node control', () => {
  let cluster: RabbitCluster;
  const queue = uniqueName('qq');

  interface Row {
    members: string[];
    online: string[];
    leader: string;
  }

  /** `name`'s row as node `node` lists it; undefined while it is not listed (e.g. no leader yet). */
  async function queueRow(node: number, name = queue): Promise<Row | undefined> {
    const rows = await cluster.queues({ node, columns: ['name', 'members', 'online', 'leader'] });
    return rows.find((r) => r.name === name) as Row | undefined;
  }

  /** Polls node `node`'s view of the queue until `ok` holds; resolves with that row. */
  async function waitForRow(node: number, ok: (row: Row) => boolean, what: string): Promise<Row> {
    let last: Row | undefined;
    await until(
      async () => {
        last = await queueRow(node);
        return last !== undefined && ok(last);
      },
      60_000,
      what,
    );
    return last!;
  }

  const declareQuorumQueue = (name: string): Promise<unknown> =>
    withAmqpChannel(cluster.urls[0]!, (ch) =>
      ch.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum' } }),
    );

  beforeAll(async () => {
    cluster = rabbitCluster();
    await cluster.ensureAllRunning();
    await declareQuorumQueue(queue);
  });

  // Each test starts from a healthy cluster, whatever the one before it left.
  beforeEach(() => cluster.ensureAllRunning());

  afterAll(async () => {
    if (cluster === undefined) return;
    await cluster.ensureAllRunning();
    await deleteQueues(cluster.urls[0]!, [queue]);
  });

  it('ensureAllRunning() leaves three nodes on their own ports that form one cluster', async () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.nodes[0]).toMatch(/^ck[0-9a-f]{6}-rabbit-1@localhost$/);
    const ports = cluster.urls.map((u) => Number(new URL(u).port));
    expect(new Set(ports).size).toBe(3);
    expect(ports).not.toContain(5672);
    for (let i = 0; i < 3; i += 1) {
      const status = await cluster.clusterStatus(i);
      expect([...status.running_nodes].sort()).toEqual([...cluster.nodes].sort());
      expect([...status.disk_nodes].sort()).toEqual([...cluster.nodes].sort());
      expect(status.partitions).toEqual({});
    }
  });

  it('queues(): a quorum queue declared through amqplib on node 1 has all three nodes as members, led by node 1', async () => {
    const name = uniqueName('qq');
    await declareQuorumQueue(name);
    try {
      const row = await queueRow(0, name);
      expect([...row!.members].sort()).toEqual([...cluster.nodes].sort());
      expect([...row!.online].sort()).toEqual([...cluster.nodes].sort());
      expect(row!.leader).toBe(cluster.nodes[0]);
    } finally {
      await deleteQueues(cluster.urls[0]!, [name]);
    }
  });

  it('kill(0) SIGKILLs node 1 (its client sees ECONNRESET); start(0) brings it back into the cluster', async () => {
    const client = await connect(cluster.urls[0]!);
    const errors: Error[] = [];
    client.on('error', (e: Error) => errors.push(e));
    const closed = new Promise((resolve) => client.once('close', resolve));
    const pid = cluster.beamPid(0)!;
    expect(cluster.nodeProcesses(0)).toContain(pid);

    await cluster.kill(0);
    await closed;
    expect(errors.map((e) => e.message).join()).toMatch(/ECONNRESET|Unexpected close|socket/i);
    expect(cluster.beamPid(0)).toBeUndefined();
    // Nothing of the node is left: launcher script, VM helpers all gone with the VM.
    await until(async () => cluster.nodeProcesses(0).length === 0, 10_000, 'node 1 processes to go');
    const down = await waitForRow(
      1,
      (r) => !r.online.includes(cluster.nodes[0]!),
      'node 1 offline for the queue',
    );
    expect(down.online).toHaveLength(2);

    await timed('start(0) after kill(0)', () => cluster.start(0));
    expect(cluster.beamPid(0)).not.toBe(pid);
    expect([...(await cluster.clusterStatus(0)).running_nodes].sort()).toEqual([...cluster.nodes].sort());
    const back = await waitForRow(0, (r) => r.online.length === 3, 'all three members online');
    expect([...back.members].sort()).toEqual([...cluster.nodes].sort());
  });

  it('stop(2) stops node 3 gracefully (CONNECTION_FORCED, no socket error); start(2) restarts it', async () => {
    const client = await connect(cluster.urls[2]!);
    const errors: Error[] = [];
    client.on('error', (e: Error) => errors.push(e));
    const closed = new Promise<unknown>((resolve) => client.once('close', resolve));

    await timed('stop(2)', () => cluster.stop(2));
    expect(String(await closed)).toMatch(/CONNECTION_FORCED|320/);
    expect(errors.map((e) => e.message).join()).not.toMatch(/ECONNRESET/);
    expect(cluster.nodeProcesses(2)).toEqual([]);

    await timed('start(2) after stop(2)', () => cluster.start(2));
    await waitForRow(2, (r) => r.online.length === 3, 'all three members online');
  });

  it('pause(1) silences node 2 until resume(1)', async () => {
    const client = await connect(cluster.urls[1]!);
    try {
      const ch = await client.createChannel();
      await cluster.pause(1);
      expect(cluster.isPaused(1)).toBe(true);
      let answered = false;
      // A lookup node 2 answers alone (a quorum queue's would also involve its Raft leader).
      const check = ch.checkExchange('amq.direct').then(() => (answered = true));
      // A stopped VM cannot answer, however long we wait; 1.5 s is the time we give it to fail.
      await sleep(1_500);
      expect(answered).toBe(false);

      cluster.resume(1);
      expect(cluster.isPaused(1)).toBe(false);
      await waitFor(check, 30_000);
      expect(answered).toBe(true);
    } finally {
      await waitFor(client.close(), 10_000).catch(() => undefined);
    }
  });

  it('ensureAllRunning() heals a stopped app, a killed node and a paused node at once', async () => {
    await cluster.stopApp(1);
    expect((await cluster.clusterStatus(0)).running_nodes).not.toContain(cluster.nodes[1]);
    await cluster.kill(2);
    await cluster.pause(0);

    await timed('ensureAllRunning() after stopApp(1), kill(2), pause(0)', () => cluster.ensureAllRunning());
    expect(cluster.isPaused(0)).toBe(false);
    expect(cluster.beamPid(2)).toBeDefined();
    for (let i = 0; i < 3; i += 1) {
      expect([...(await cluster.clusterStatus(i)).running_nodes].sort()).toEqual([...cluster.nodes].sort());
    }
  });

  it('node control throws RangeError synchronously for a bad node index', () => {
    expect(() => cluster.ctl(3, 'status')).toThrow(RangeError);
    expect(() => cluster.kill(-1)).toThrow(/got -1/);
    expect(() => cluster.pause(1.5)).toThrow(RangeError);
    expect(() => cluster.beamPid(Number.NaN)).toThrow(RangeError);
  });
});
