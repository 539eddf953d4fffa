/** The service URLs resolved by the global setup, for integration tests. */
import { inject } from 'vitest';

/** PostgreSQL connection string of the test run. */
export function databaseUrl(): string {
  return inject('databaseUrl');
}

/** RabbitMQ connection string of the test run. */
export function amqpUrl(): string {
  return inject('amqpUrl');
}
