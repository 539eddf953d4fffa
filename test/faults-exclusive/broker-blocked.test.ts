/**
 * `connection.blocked` / `connection.unblocked`: RabbitMQ blocks publishers when a resource alarm
 * fires. Raising the memory alarm (high watermark 0) for a moment disturbs the whole broker, hence
 * the `faults-exclusive` project.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../adapters/amqp/index.js';
import { deleteQueues } from '../support/amqp.js';
import { until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { canUseRabbitmqctl, rabbitmqctl } from '../support/rabbit-admin.js';
import { amqpUrl } from '../support/services.js';

describe('Broker blocked/unblocked events', () => {
  it("emits 'blocked' while a memory alarm holds publishers, 'unblocked' after, and the held publish is confirmed", async (ctx) => {
    if (!(await canUseRabbitmqctl())) {
      console.log('[faults] blocked/unblocked needs rabbitmqctl to raise a memory alarm: not testable here');
      ctx.skip();
      return;
    }
    const queue = uniqueName('blocked_q');
    const broker = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_blocked') });
    const events: string[] = [];
    broker.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
    broker.on('unblocked', () => events.push('unblocked'));
    const watermark = (await rabbitmqctl('eval', 'vm_memory_monitor:get_vm_memory_high_watermark().')).trim();
    try {
      await broker.declare({ queues: [{ name: queue, options: { durable: false } }] });
      await broker.sendToQueue(queue, 'before');
      await rabbitmqctl('set_vm_memory_high_watermark', '0');
      // The broker blocks a connection when it next publishes; this publish is held, not lost.
      let settled = false;
      const held = broker.sendToQueue(queue, 'during', { timeout: 60_000 }).finally(() => (settled = true));
      await until(() => events.some((e) => e.startsWith('blocked')), 20_000, "'blocked' event");
      expect(settled).toBe(false);
      await rabbitmqctl('set_vm_memory_high_watermark', watermark);
      await until(() => events.includes('unblocked'), 20_000, "'unblocked' event");
      await held;
      expect(events[0]).toMatch(/^blocked: .*memory/i);
      expect(events).toContain('unblocked');
    } finally {
      await rabbitmqctl('set_vm_memory_high_watermark', watermark).catch(() => undefined);
      await broker.close();
      await deleteQueues(amqpUrl(), [queue]);
    }
  });
});
