import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { traceHeaders } from '../../../adapters/amqp/trace-headers.js';
import { activeContext } from '../../../src/internal/index.js';
import { installTracing, type TestTracing } from '../../support/otel.js';

let tracing: TestTracing | undefined;
afterEach(async () => {
  await tracing?.uninstall();
  tracing = undefined;
});

describe('traceHeaders()', () => {
  it('adds the context’s traceparent to a copy of the headers', () => {
    tracing = installTracing();
    trace.getTracer('t').startActiveSpan('caller', (span) => {
      const headers = { tenant: 'a' };
      const out = traceHeaders(headers, activeContext()!);
      const { traceId, spanId } = span.spanContext();
      expect(out).toEqual({ tenant: 'a', traceparent: `00-${traceId}-${spanId}-01` });
      expect(headers).toEqual({ tenant: 'a' });
      expect(traceHeaders(undefined, activeContext()!)).toEqual({
        traceparent: `00-${traceId}-${spanId}-01`,
      });
      span.end();
    });
  });

  it('keeps a traceparent the caller set (any case), and the headers as they were without a span', () => {
    tracing = installTracing();
    const own = { TraceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    trace.getTracer('t').startActiveSpan('caller', (span) => {
      expect(traceHeaders(own, activeContext()!)).toBe(own);
      span.end();
    });
    const none = { x: 1 };
    expect(traceHeaders(none, activeContext()!)).toBe(none); // no active span: nothing to carry
    expect(traceHeaders(undefined, activeContext()!)).toBeUndefined();
  });
});
