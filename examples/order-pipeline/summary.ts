/** The demo's summary: what a person reads at the end, or one JSON object with `--json`. */

export interface Summary {
  orders: number;
  published: number;
  delivered: number;
  duplicatesDelivered: number;
  duplicatesSuppressed: number;
  lost: number;
  appliedTwice: number;
  throughputPerSec: number;
  p50Ms: number;
  p99Ms: number;
  elapsedMs: number;
  faultsInjected: number;
  /** Of the faults, broker nodes killed or stopped (`--cluster --chaos`). */
  nodeFaults: number;
  /** The broker URLs (passwords masked): one, or a cluster's nodes. */
  amqpUrls: string[];
  pool: unknown;
  broker: unknown;
}

/** A human-readable summary. */
export function formatSummary(s: Summary): string {
  const ok = s.lost === 0 && s.appliedTwice === 0;
  const rows: [string, string | number][] = [
    ['orders', s.orders],
    ['published', s.published],
    ['delivered', s.delivered],
    ['duplicates delivered', s.duplicatesDelivered],
    ['duplicates suppressed', s.duplicatesSuppressed],
    ['lost', s.lost],
    ['applied twice', s.appliedTwice],
    ['throughput', `${s.throughputPerSec} orders/s`],
    ['end-to-end latency', `p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms`],
    ['elapsed', `${(s.elapsedMs / 1000).toFixed(1)} s`],
    [
      'faults injected',
      `${s.faultsInjected}${s.nodeFaults > 0 ? ` (${s.nodeFaults} broker nodes killed or stopped)` : ''}`,
    ],
    ['broker urls', s.amqpUrls.join(' ')],
    ['database pool', JSON.stringify(s.pool)],
    ['broker', JSON.stringify(s.broker)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`),
    '',
    ok ? 'OK: nothing lost, nothing applied twice.' : 'FAILED: messages were lost or applied twice.',
  ].join('\n');
}
