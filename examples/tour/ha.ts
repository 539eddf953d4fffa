import { CommitInDoubtError, Database } from 'connkit/postgres';

// Failover: list the cluster's hosts (libpq syntax); each new connection goes to the first one that
// takes writes now — after a failover, the promoted standby, with no restart of the application.
await using db = new Database({
  url: 'postgres://app@10.0.0.1:5432,10.0.0.2:5432/shop?target_session_attrs=read-write',
  // Read replicas (each may be multi-host too): `readOnly` work runs on a healthy one, standalone
  // reads pipelined there as on the primary.
  replicas: ['postgres://app@10.0.0.2:5432/shop', 'postgres://app@10.0.0.3:5432/shop'],
  connectTimeout: 2_000, // an unreachable host costs at most this, then the next one is tried
});
const today = await db.rows('select id from orders where day = current_date', [], { readOnly: true });
await db.transaction(async (tx) => tx.query('select count(*) from orders'), { readOnly: true });
console.log(today.length, db.stats().replicas); // [{ url, healthy: true, pool: { … }, pipeline: { … } }, …]

// A connection lost while COMMIT was on its way: nobody knows whether it committed.
await db
  .transaction(async (tx) => tx.query('insert into orders (id) values (7)'))
  .catch((err: unknown) => {
    if (err instanceof CommitInDoubtError) console.log('order 7 may or may not be there: look it up');
  });

// Behind PgBouncer in transaction mode: LISTEN needs a session of its own, so it gets a direct URL.
await using pooled = new Database({
  url: 'postgres://app@pgbouncer.internal:6432/shop',
  listenUrl: 'postgres://app@10.0.0.1:5432,10.0.0.2:5432/shop?target_session_attrs=read-write',
});
const sub = await pooled.listen('orders');
await sub.close();
