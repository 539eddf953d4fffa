/** Unique, lower-case names for tables, schemas, queues and exchanges, so parallel tests never collide. */
import { randomBytes } from 'node:crypto';

let counter = 0;

/** A fresh identifier such as `t_4242_7_9f3a1c`: safe unquoted in SQL and as an AMQP name. */
export function uniqueName(prefix = 't'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${randomBytes(3).toString('hex')}`.toLowerCase();
}
