/**
 * The configuration files of the HA pair and PgBouncer. Settings both nodes share go into
 * postgresql.conf (pg_basebackup copies it); what makes a node itself — port, name, and whom it
 * follows — is rewritten in full into postgresql.auto.conf whenever its role changes, because a
 * copied data directory carries the other node's values there.
 */
import { chownSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LocalClusterDescriptor, LocalNodeDescriptor, PgNode } from './descriptor.js';

/** Quotes a value for postgresql.conf / a libpq conninfo string. */
function quote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

function write(c: LocalClusterDescriptor, file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chownSync(file, c.owner.uid, c.owner.gid);
}

/** Appended to the primary's postgresql.conf right after initdb; the standby inherits it. */
export function sharedServerConf(c: LocalClusterDescriptor): string {
  return [
    '',
    '# connkit HA test pair (test/support/pg-cluster)',
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = ${quote(c.socketDir)}`,
    'wal_level = replica',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'hot_standby = on',
    // pg_rewind needs it; later tests may rewind a demoted primary themselves.
    'wal_log_hints = on',
    // Throwaway data: no fsync, small buffers (two servers on a shared 2-core machine).
    'fsync = off',
    'shared_buffers = 32MB',
    'max_connections = 100',
    // replay_lsn reaches the primary at this interval; the default 10 s would slow every reset.
    'wal_receiver_status_interval = 1s',
    "log_line_prefix = '%m [%p] '",
    '',
  ].join('\n');
}

/**
 * Rewrites `node`'s postgresql.auto.conf: its own port and name, and — as a standby of `follows` —
 * the primary_conninfo and slot it streams through.
 */
export function writeNodeConf(c: LocalClusterDescriptor, node: PgNode, follows?: PgNode): void {
  writeStandbyConf(c, c.nodes[node], follows === undefined ? undefined : c.nodes[follows]);
}

/**
 * {@link writeNodeConf} for any node descriptor (the extra standby `c` too): its port and name and,
 * with `upstream`, whom it streams from (through its slot, when it has one).
 */
export function writeStandbyConf(
  c: LocalClusterDescriptor,
  self: LocalNodeDescriptor,
  upstream?: LocalNodeDescriptor,
): void {
  const lines = [
    '# Written by test/support/pg-cluster (rewritten on every role change).',
    `port = ${self.port}`,
    `cluster_name = ${quote(self.clusterName)}`,
  ];
  if (upstream) {
    const conninfo = `host=127.0.0.1 port=${upstream.port} user=postgres application_name=${self.clusterName}`;
    lines.push(`primary_conninfo = ${quote(conninfo)}`);
    if (self.slot) lines.push(`primary_slot_name = ${quote(self.slot)}`);
  }
  write(c, path.join(self.dataDir, 'postgresql.auto.conf'), `${lines.join('\n')}\n`);
}

/** PgBouncer in transaction mode in front of node `a`, with its own files in the temp dir. */
export function writeBouncerConf(c: LocalClusterDescriptor): void {
  const userlist = path.join(c.root, 'pgbouncer-users.txt');
  // auth_type=trust still needs the user listed; the password is never checked.
  write(c, userlist, '"postgres" ""\n');
  const ini = [
    '[databases]',
    `* = host=127.0.0.1 port=${c.nodes.a.port}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${c.bouncer.port}`,
    // No unix socket: the Debian default directory is the system instance's.
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${userlist}`,
    'admin_users = postgres',
    'pool_mode = transaction',
    'max_client_conn = 500',
    'default_pool_size = 20',
    'server_connect_timeout = 5',
    'server_login_retry = 1',
    'ignore_startup_parameters = extra_float_digits',
    `logfile = ${c.bouncer.logFile}`,
    `pidfile = ${c.bouncer.pidFile}`,
    '',
  ].join('\n');
  write(c, c.bouncer.ini, ini);
}
