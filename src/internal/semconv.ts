/**
 * Internal: the OpenTelemetry semantic-convention names connkit's spans, metrics and channel
 * contexts use, in one place. Followed: the conventions as published in
 * `@opentelemetry/semantic-conventions` 1.45 — stable there: the database span attributes
 * (`db.system.name`, `db.namespace`, `db.query.text`, `db.operation.name`, `server.*`, `error.type`)
 * and `db.client.operation.duration`; still in development: the connection-pool metrics
 * (`db.client.connection.*`; `db.client.connection.max` was renamed `…limit`) and all of messaging.
 * Copied as constants rather than imported: `@opentelemetry/semantic-conventions` says to copy its
 * incubating names, and connkit takes no runtime dependency for a few strings.
 * @module
 */

/**
 * Attribute names (spans and metrics).
 *
 * @example
 * ```ts
 * span.setAttribute(ATTR.DB_QUERY_TEXT, 'select * from t where id = $1');
 * ```
 */
export const ATTR = {
  DB_SYSTEM_NAME: 'db.system.name',
  DB_NAMESPACE: 'db.namespace',
  DB_QUERY_TEXT: 'db.query.text',
  DB_OPERATION_NAME: 'db.operation.name',
  DB_RESPONSE_STATUS_CODE: 'db.response.status_code',
  DB_CONNECTION_STATE: 'db.client.connection.state',
  DB_CONNECTION_POOL_NAME: 'db.client.connection.pool.name',
  /** The table an outbox or inbox metric is about (the conventions' name for a table). */
  DB_COLLECTION_NAME: 'db.collection.name',
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
  ERROR_TYPE: 'error.type',
  /** connkit's own: the statement was sent on a shared pipelined connection (boolean). */
  CONNKIT_PIPELINED: 'connkit.pipelined',
  /** connkit's own: what a cancellation was (`sent`, `resent`: see {@link VALUE}). */
  CONNKIT_CANCEL_OUTCOME: 'connkit.postgres.cancel.outcome',
  MESSAGING_SYSTEM: 'messaging.system',
  MESSAGING_OPERATION_TYPE: 'messaging.operation.type',
  MESSAGING_OPERATION_NAME: 'messaging.operation.name',
  MESSAGING_DESTINATION_NAME: 'messaging.destination.name',
  MESSAGING_DESTINATION_TEMPORARY: 'messaging.destination.temporary',
  MESSAGING_DESTINATION_ANONYMOUS: 'messaging.destination.anonymous',
  MESSAGING_CONSUMER_GROUP_NAME: 'messaging.consumer.group.name',
  MESSAGING_MESSAGE_ID: 'messaging.message.id',
  MESSAGING_MESSAGE_CONVERSATION_ID: 'messaging.message.conversation_id',
  MESSAGING_MESSAGE_BODY_SIZE: 'messaging.message.body.size',
  MESSAGING_BATCH_MESSAGE_COUNT: 'messaging.batch.message_count',
  MESSAGING_RABBITMQ_ROUTING_KEY: 'messaging.rabbitmq.destination.routing_key',
  MESSAGING_RABBITMQ_DELIVERY_TAG: 'messaging.rabbitmq.message.delivery_tag',
  /** connkit's own (no convention exists): what became of a delivery (ack, retry, dead-letter, reject, requeue). */
  CONNKIT_AMQP_OUTCOME: 'connkit.amqp.outcome',
  /** connkit's own: why a delivery was dead-lettered (undecodable, non-retryable, attempts-exhausted, not-retried). */
  CONNKIT_AMQP_DEAD_LETTER_REASON: 'connkit.amqp.dead_letter.reason',
  /** connkit's own: what an inbox did with a delivery (`applied` | `duplicate`). */
  CONNKIT_INBOX_OUTCOME: 'connkit.inbox.outcome',
} as const;

/**
 * Attribute values with a fixed set.
 *
 * @example
 * ```ts
 * { [ATTR.DB_SYSTEM_NAME]: VALUE.DB_SYSTEM_POSTGRESQL, [ATTR.MESSAGING_OPERATION_TYPE]: VALUE.OP_SEND }
 * ```
 */
export const VALUE = {
  DB_SYSTEM_POSTGRESQL: 'postgresql',
  CONNECTION_IDLE: 'idle',
  CONNECTION_USED: 'used',
  MESSAGING_RABBITMQ: 'rabbitmq',
  OP_CREATE: 'create',
  OP_SEND: 'send',
  OP_RECEIVE: 'receive',
  OP_PROCESS: 'process',
  OP_SETTLE: 'settle',
  /** `connkit.postgres.cancel.outcome`: a cancel (CancelRequest or `pg_cancel_backend`) reached the server. */
  CANCEL_SENT: 'sent',
  /** `connkit.postgres.cancel.outcome`: a statement one of connkit's cancels hit was run again elsewhere. */
  CANCEL_RESENT: 'resent',
  INBOX_APPLIED: 'applied',
  INBOX_DUPLICATE: 'duplicate',
} as const;

/**
 * Metric names, with the instrument and unit the conventions give them.
 *
 * @example
 * ```ts
 * meter.createHistogram(METRIC.DB_OPERATION_DURATION, { unit: 's' });
 * ```
 */
export const METRIC = {
  /** UpDownCounter `{connection}`, by `db.client.connection.state` (idle | used). */
  DB_CONNECTION_COUNT: 'db.client.connection.count',
  /** UpDownCounter `{request}`: acquires waiting for a connection. */
  DB_CONNECTION_PENDING_REQUESTS: 'db.client.connection.pending_requests',
  /** UpDownCounter `{connection}`: the most open connections allowed (formerly `…max`). */
  DB_CONNECTION_LIMIT: 'db.client.connection.limit',
  /** UpDownCounter `{connection}`: idle connections kept warm. */
  DB_CONNECTION_IDLE_MIN: 'db.client.connection.idle.min',
  /** Counter `{timeout}`: acquires that timed out. */
  DB_CONNECTION_TIMEOUTS: 'db.client.connection.timeouts',
  /** Histogram `s`: time to obtain a connection. */
  DB_CONNECTION_WAIT_TIME: 'db.client.connection.wait_time',
  /** Histogram `s`: time to create a connection. */
  DB_CONNECTION_CREATE_TIME: 'db.client.connection.create_time',
  /** Histogram `s`: time a connection stays borrowed. */
  DB_CONNECTION_USE_TIME: 'db.client.connection.use_time',
  /** Histogram `s` (stable): duration of a database operation (query). */
  DB_OPERATION_DURATION: 'db.client.operation.duration',
  /**
   * Histogram `{statement}` (connkit's own): statements in flight on a pipelined connection when one
   * is written, itself included.
   */
  POSTGRES_PIPELINE_DEPTH: 'connkit.postgres.pipeline.depth',
  /** Counter `{cancellation}` (connkit's own): cancels sent, and statements they hit that were re-sent. */
  POSTGRES_CANCELLATIONS: 'connkit.postgres.cancellations',
  /** Counter `{message}`: messages the producer attempted to send. */
  MESSAGING_SENT_MESSAGES: 'messaging.client.sent.messages',
  /** Counter `{message}`: messages delivered to the application. */
  MESSAGING_CONSUMED_MESSAGES: 'messaging.client.consumed.messages',
  /** Histogram `s`: a producer or consumer client operation (send → confirm, settle). */
  MESSAGING_OPERATION_DURATION: 'messaging.client.operation.duration',
  /** Histogram `s`: a handler's processing of a message. */
  MESSAGING_PROCESS_DURATION: 'messaging.process.duration',
  /** Counter `{reconnect}` — connkit's own, no convention exists: times a Broker connected again after a loss. */
  CONNKIT_AMQP_RECONNECTS: 'connkit.amqp.reconnects',
  /** Counter `{message}` — connkit's own: deliveries sent to the dead-letter queue (or rejected to the queue's DLX). */
  CONNKIT_AMQP_DEAD_LETTERED: 'connkit.amqp.dead_lettered',
  /** Histogram `s` — connkit's own: an outbox row's age (its `created_at`) when the broker confirmed it. */
  CONNKIT_OUTBOX_LAG: 'connkit.outbox.lag',
  /** Gauge `{message}` — connkit's own: rows waiting in an outbox table (all relays). */
  CONNKIT_OUTBOX_PENDING: 'connkit.outbox.pending',
  /** Counter `{message}` — connkit's own: deliveries an inbox skipped as already applied, by consumer. */
  CONNKIT_INBOX_DUPLICATES: 'connkit.inbox.duplicates',
} as const;

/**
 * Bucket boundaries (seconds) the conventions advise for `db.client.operation.duration` (used for the
 * pool's wait time too); the SDK's default buckets are meant for milliseconds.
 *
 * @example
 * ```ts
 * meter.createHistogram(METRIC.DB_OPERATION_DURATION, { unit: 's', advice: { explicitBucketBoundaries: [...DB_DURATION_BUCKETS] } });
 * ```
 */
export const DB_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/**
 * Bucket boundaries (seconds) the conventions advise for `messaging.client.operation.duration` and
 * `messaging.process.duration`.
 *
 * @example
 * ```ts
 * meter.createHistogram(METRIC.MESSAGING_PROCESS_DURATION, { unit: 's', advice: { explicitBucketBoundaries: [...MESSAGING_DURATION_BUCKETS] } });
 * ```
 */
export const MESSAGING_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/**
 * Bucket boundaries for `connkit.postgres.pipeline.depth` (statements): powers of two up to the
 * largest `maxDepth` worth having.
 *
 * @example
 * ```ts
 * meter.createHistogram(METRIC.POSTGRES_PIPELINE_DEPTH, { unit: '{statement}', advice: { explicitBucketBoundaries: [...PIPELINE_DEPTH_BUCKETS] } });
 * ```
 */
export const PIPELINE_DEPTH_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
