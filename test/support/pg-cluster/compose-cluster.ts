/**
 * Control of the docker-compose `ha` profile (for users with Docker but without the PostgreSQL server
 * programs): the same operations as the local pair, done with `docker compose` on the profile's
 * services and with SQL. A reset recreates the three containers with fresh volumes.
 */
import {
  findPrimary,
  multiHost,
  otherNode,
  withDatabase,
  type PgCluster,
  type StopMode,
  type WaitOptions,
} from './cluster.js';
import type { ExternalClusterDescriptor, PgNode } from './descriptor.js';
import { pollUntil, run } from './processes.js';
import { nodeRole, queryOnce, streamsFrom, waitAcceptsWrites, waitCaughtUp, type NodeRole } from './sql.js';

const DEFAULT_WAIT = 30_000;
/** Recreating the containers (initdb, base backup) takes far longer than a local reset. */
const RECREATE_WAIT = 180_000;

/**
 * The compose `ha` pair described by an {@link ExternalClusterDescriptor}.
 * @example
 * const cluster = new ComposePgCluster(descriptor);
 * await cluster.stop('a');
 * await cluster.promote('b');
 */
export class ComposePgCluster implements PgCluster {
  readonly kind = 'external';
  readonly descriptor: ExternalClusterDescriptor;

  constructor(descriptor: ExternalClusterDescriptor) {
    this.descriptor = descriptor;
  }

  get database(): string {
    return this.descriptor.database;
  }

  url(node: PgNode, database = this.database): string {
    return withDatabase(this.descriptor.urls[node], database);
  }

  multiHostUrl(query = '', database = this.database): string {
    return multiHost([this.url('a'), this.url('b')], database, query);
  }

  bouncerUrl(database = this.database): string {
    return withDatabase(this.descriptor.urls.bouncer, database);
  }

  get bouncerAdminUrl(): string {
    return this.bouncerUrl('pgbouncer');
  }

  role(node: PgNode): Promise<NodeRole> {
    return nodeRole(this.url(node, 'postgres'));
  }

  primary(): Promise<PgNode | undefined> {
    return findPrimary((n) => this.role(n));
  }

  async stop(node: PgNode, opts: { mode?: StopMode } = {}): Promise<void> {
    // SIGKILL of the container is the crash `immediate` stands for; the others shut down cleanly.
    const service = this.descriptor.services[node];
    await this.#compose(
      opts.mode === 'immediate' || opts.mode === undefined ? ['kill', service] : ['stop', service],
    );
  }

  async start(node: PgNode): Promise<void> {
    await this.#compose(['start', this.descriptor.services[node]]);
    const up = await pollUntil(async () => (await this.role(node)) !== 'down', DEFAULT_WAIT);
    if (!up) throw new Error(`compose service ${this.descriptor.services[node]} started but does not answer`);
  }

  async promote(node: PgNode, opts: WaitOptions = {}): Promise<void> {
    await queryOnce(this.url(node, 'postgres'), 'select pg_promote(true, 60)');
    await waitAcceptsWrites(this.url(node, 'postgres'), opts.timeout ?? DEFAULT_WAIT);
  }

  async pause(node: PgNode): Promise<void> {
    await this.#compose(['pause', this.descriptor.services[node]]);
  }

  async resume(node: PgNode): Promise<void> {
    await this.#compose(['unpause', this.descriptor.services[node]]).catch(() => undefined);
  }

  async waitCaughtUp(standby: PgNode = 'b', opts: WaitOptions = {}): Promise<void> {
    // The compose file sets cluster_name to the service name: the walreceiver's application_name.
    await waitCaughtUp(
      this.url(otherNode(standby), 'postgres'),
      this.descriptor.services[standby],
      opts.timeout ?? DEFAULT_WAIT,
    );
  }

  async reset(opts: WaitOptions = {}): Promise<void> {
    await this.resume('a');
    await this.resume('b');
    if (
      (await this.role('a')) === 'primary' &&
      (await this.role('b')) === 'standby' &&
      (await streamsFrom(this.url('a', 'postgres'), this.descriptor.services.b))
    ) {
      await this.waitCaughtUp('b', { timeout: opts.timeout ?? DEFAULT_WAIT });
      return;
    }
    const { a, b, bouncer } = this.descriptor.services;
    await this.#compose(['up', '-d', '--force-recreate', '--renew-anon-volumes', '--wait', a, b, bouncer]);
    await waitAcceptsWrites(this.url('a', 'postgres'), RECREATE_WAIT);
    await this.waitCaughtUp('b', { timeout: RECREATE_WAIT });
  }

  startExtraStandby(): Promise<never> {
    return Promise.reject(
      new Error('a third node needs the local harness (the compose profile runs two nodes)'),
    );
  }

  async #compose(args: string[]): Promise<void> {
    await run(['docker', 'compose', '-f', this.descriptor.composeFile, '--profile', 'ha', ...args], {
      timeout: RECREATE_WAIT,
    });
  }
}
