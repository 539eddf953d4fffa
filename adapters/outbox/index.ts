/**
 * connkit/outbox: a transactional outbox (relay) and an idempotent inbox, joining
 * connkit/postgres and connkit/amqp so producers and consumers lose nothing and apply each message once.
 * @module
 */
export * from './outbox.js';
export * from './relay.js';
export * from './inbox.js';
export * from './inbox-pruner.js';
