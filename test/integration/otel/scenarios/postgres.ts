/**
 * connkit's Database used as an application uses it, under @opentelemetry/instrumentation-pg:
 * `node --import ./register.mjs --import tsx postgres.ts <pooled|pipelined>` with DATABASE_URL set.
 */
import { trace } from '@opentelemetry/api';
import { Database } from '../../../../adapters/postgres/index.js';
import { report } from './report.js';

const mode = process.argv[2];
const url = process.env['DATABASE_URL'];
if (url === undefined || (mode !== 'pooled' && mode !== 'pipelined'))
  throw new Error('usage: postgres.ts pooled|pipelined');
const tracer = trace.getTracer('scenario');
// Pipelined is the default (statements with parameters run prepared there); pooled is pipeline: false.
const db = new Database({ url, ...(mode === 'pooled' ? { pipeline: false as const } : {}) });
const roots: Record<string, string> = {};

// One caller: a query with a bound value, then a transaction.
await tracer.startActiveSpan('root', async (span) => {
  roots['root'] = span.spanContext().spanId;
  await db.query('select $1::text as v', ['secret-4711']);
  await db.transaction(async (tx) => {
    await tx.query('select 2 as in_tx');
  });
  span.end();
});
// Two callers at once: on pipelined connections their statements share a socket.
await Promise.all(
  ['a', 'b'].map((name) =>
    tracer.startActiveSpan(name, async (span) => {
      roots[name] = span.spanContext().spanId;
      await db.query(`select $1::text as caller_${name}`, [name]);
      span.end();
    }),
  ),
);
const pipelineConnections = db.stats().pipeline.connections;
await db.close();
report({ roots, pipelineConnections });
