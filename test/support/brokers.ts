/** Brokers for AMQP integration tests: opened on the test server, closed together after each test. */
import { Broker } from '../../adapters/amqp/index.js';
import { uniqueName } from './names.js';
import { amqpUrl } from './services.js';

/** A factory of test Brokers and the way to close every one it made. */
export interface TestBrokers {
  /** A new Broker on the test server, with a unique client name and 'error' events swallowed. */
  broker: () => Broker;
  /** Closes (2 s timeout) every Broker made since the last call. */
  closeAll: () => Promise<void>;
}

/**
 * Tracks the Brokers a test file opens, so `afterEach` can close them all.
 * @example
 * const { broker, closeAll } = testBrokers();
 * afterEach(() => closeAll());
 * const b = broker();
 */
export function testBrokers(): TestBrokers {
  const open: Broker[] = [];
  return {
    broker: () => {
      const b = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_f') });
      b.on('error', () => undefined);
      open.push(b);
      return b;
    },
    closeAll: async () => {
      await Promise.all(open.splice(0).map((b) => b.close({ timeout: 2000 })));
    },
  };
}
