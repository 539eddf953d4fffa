/**
 * A CommonJS module that require()s the ESM package: Node's require(esm), on by default from
 * Node 20.19 and 22.12. test/package/pack.test.ts compiles it in the scratch project and runs it.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- require() of connkit is what this file tests */
import connkit = require('connkit');
import postgres = require('connkit/postgres');
import amqp = require('connkit/amqp');
import outbox = require('connkit/outbox');

const semaphore: connkit.Semaphore = new connkit.Semaphore(1);
const query: postgres.SqlQuery = postgres.sql`select ${1}::int`;
const loaded = {
  core: typeof connkit.TaskGroup === 'function' && semaphore.tryAcquire(),
  postgres: typeof postgres.Database === 'function' && query.values.length === 1,
  // One copy of the core behind every entry point: the adapters' errors are connkit's ConnkitError.
  amqp: typeof amqp.Broker === 'function' && amqp.UnroutableError.prototype instanceof connkit.ConnkitError,
  outbox: typeof outbox.Outbox === 'function' && typeof outbox.Inbox === 'function',
};
console.log(JSON.stringify(loaded));
