import { Database, DatabaseError, sql } from 'connkit/postgres';

await using db = new Database({ url: process.env['DATABASE_URL'], applicationName: 'tour' });

// Values never enter the SQL text; identifiers are quoted.
const table = sql.id('tour_accounts');
await db.query(sql`create temp table if not exists ${table} (id int primary key, balance int)`);
const one = await db.one<{ n: number }>(sql`select ${41}::int + 1 as n`);

// Transactions: commit on resolve, roll back on throw or abort; retries on serialization failures.
await db.transaction(
  async (tx) => {
    await tx.query('select set_config($1, $2, true)', ['app.user', 'tour']);
    await tx.transaction(async (savepoint) => savepoint.query('select 1')); // nested = savepoint
  },
  { isolation: 'serializable', retries: 3 },
);

// A timeout cancels the statement on the server; the connection stays healthy.
await db.query('select pg_sleep(10)', [], { timeout: 100 }).catch((err: unknown) => console.log(err));

// SQL errors carry the SQLSTATE and never cost the connection.
await db.query('select 1/0').catch((err: unknown) => {
  if (err instanceof DatabaseError) console.log(err.code, err.retryable); // '22012' false
});

// Server-side cursor: bounded memory; breaking out closes the cursor and releases the connection.
for await (const row of db.stream<{ n: number }>('select generate_series(1, 1000000) as n', [], {
  batchSize: 500,
})) {
  if (row.n >= 10) break;
}

// LISTEN on a dedicated connection that reconnects by itself.
const sub = await db.listen('tour_events');
await db.notify('tour_events', JSON.stringify(one));
for await (const note of sub) {
  console.log(note.channel, note.payload);
  break;
}
await sub.close();
