/**
 * The serialisable description of the HA servers of a test run. The vitest main process starts (or
 * finds) them and hands this to every worker through `provide`/`inject`; a worker rebuilds a
 * control object from it with `clusterFromDescriptor()`.
 */

/** The two PostgreSQL nodes: `a` is the primary and `b` the streaming standby after every reset. */
export type PgNode = 'a' | 'b';

/** One node of a pair this harness started. */
export interface LocalNodeDescriptor {
  port: number;
  dataDir: string;
  /** pg_ctl's log (`-l`), appended to across restarts. */
  logFile: string;
  /** `cluster_name`: the walreceiver's application_name and part of every process title. */
  clusterName: string;
  /** Physical replication slot this node streams through while it is a standby. */
  slot: string;
}

/** A primary + streaming standby + PgBouncer started on this machine by the harness. */
export interface LocalClusterDescriptor {
  kind: 'local';
  /** Temp directory holding everything; its basename is {@link tag}. */
  root: string;
  /** Unique per run; appears in every process's command line or title (`pgrep -f <tag>`). */
  tag: string;
  bindir: string;
  /** Argument prefix that runs a program as the data directories' owner (see `findPgPrograms`). */
  runAs: string[];
  owner: { uid: number; gid: number };
  /** `unix_socket_directories` of both nodes (never the system's /var/run/postgresql). */
  socketDir: string;
  /** File listing every server pid ever started (one per line), also by workers. */
  ledger: string;
  database: string;
  nodes: Record<PgNode, LocalNodeDescriptor>;
  bouncer: { program: string; port: number; ini: string; pidFile: string; logFile: string };
}

/** Servers given by URL (the `ha` profile of docker-compose.yml, controlled with `docker compose`). */
export interface ExternalClusterDescriptor {
  kind: 'external';
  database: string;
  urls: Record<PgNode, string> & { bouncer: string };
  /** docker-compose.yml whose `ha` profile runs these servers. */
  composeFile: string;
  services: Record<PgNode, string> & { bouncer: string };
}

/** Neither server programs nor URLs: HA tests skip and print {@link reason}. */
export interface UnavailableClusterDescriptor {
  kind: 'unavailable';
  reason: string;
}

export type ClusterDescriptor =
  LocalClusterDescriptor | ExternalClusterDescriptor | UnavailableClusterDescriptor;
