import fs from 'node:fs';
import { context, trace, type Span } from '@opentelemetry/api';
import { AlwaysOffSampler } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnkitError } from '../../../src/errors.js';
import { connkitMeter } from '../../../src/internal/metrics.js';
import { otelApi, setOtelApiForTests } from '../../../src/internal/otel-api.js';
import { ATTR } from '../../../src/internal/semconv.js';
import {
  activeContext,
  amqpHeaderGetter,
  extractContext,
  injectContext,
  withContext,
} from '../../../src/internal/trace-context.js';
import {
  activeSpan as connkitActiveSpan,
  endSpan,
  inSpan,
  startSpan,
  tracingEnabled,
} from '../../../src/internal/tracing.js';
import { VERSION } from '../../../src/internal/version.js';
import { installTracing, type TestTracing } from '../../support/otel.js';

let sdk: TestTracing | undefined;
afterEach(async () => {
  setOtelApiForTests(undefined);
  await sdk?.uninstall();
  sdk = undefined;
});

const activeSpan = (): Span | undefined => trace.getSpan(context.active());

describe('tracing helpers without an SDK', () => {
  it('tracingEnabled() is false and every helper is a no-op while no tracer provider is registered', async () => {
    expect(otelApi()).toBeDefined(); // the API is installed here: only the SDK is missing
    expect(tracingEnabled()).toBe(false);
    const attributes = vi.fn(() => ({}));
    expect(startSpan('x', { kind: 'client', attributes })).toBeUndefined();
    expect(
      await inSpan('x', { kind: 'client', attributes }, (span) => Promise.resolve(span)),
    ).toBeUndefined();
    expect(attributes).not.toHaveBeenCalled();
    expect(activeContext()).toBeUndefined();
    expect(
      extractContext({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
    ).toBeUndefined();
    const headers = { a: 1 };
    expect(injectContext(headers)).toEqual({ a: 1 });
  });

  it('without @opentelemetry/api installed, nothing is traced or measured and fn runs as it is', () => {
    setOtelApiForTests(null);
    sdk = installTracing(); // even with an SDK on the globals: connkit does not see the API
    expect(otelApi()).toBeUndefined();
    expect(tracingEnabled()).toBe(false);
    expect(connkitMeter()).toBeUndefined();
    expect(inSpan('x', { kind: 'internal' }, (span) => span)).toBeUndefined();
    expect(withContext(undefined, () => 42)).toBe(42);
  });
});

describe('tracing helpers with an SDK registered', () => {
  it('sees an SDK registered after connkit was loaded, and names its tracer connkit with the package version', () => {
    expect(tracingEnabled()).toBe(false);
    sdk = installTracing();
    expect(tracingEnabled()).toBe(true);
    endSpan(startSpan('probe', { kind: 'internal' }));
    const [span] = sdk.exporter.getFinishedSpans();
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(span?.instrumentationScope).toMatchObject({ name: 'connkit', version: pkg.version });
    expect(VERSION).toBe(pkg.version);
  });

  it('inSpan() makes the span active across awaits, parents it on the active span and ends it when fn settles', async () => {
    sdk = installTracing();
    const tracer = trace.getTracer('test');
    let inside: Span | undefined;
    let given: unknown;
    await tracer.startActiveSpan('root', async (root) => {
      await inSpan(
        'child',
        { kind: 'consumer', attributes: { [ATTR.MESSAGING_SYSTEM]: 'rabbitmq' } },
        async (span) => {
          given = span;
          await new Promise((resolve) => setTimeout(resolve, 1));
          inside = activeSpan();
        },
      );
      root.end();
    });
    const [child, root] = sdk.exporter.getFinishedSpans();
    expect(child?.name).toBe('child');
    expect(inside).toBe(given);
    expect(inside?.spanContext().spanId).toBe(child?.spanContext().spanId);
    expect(child?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
    expect(child?.kind).toBe(4); // CONSUMER
    expect(child?.attributes[ATTR.MESSAGING_SYSTEM]).toBe('rabbitmq');
  });

  it('inSpan() records a rejection (status, error.type from the code, exception) and rethrows it', async () => {
    sdk = installTracing();
    const err = new ConnkitError('nope', 'BROKER_CLOSED');
    await expect(inSpan('op', { kind: 'producer' }, () => Promise.reject(err))).rejects.toBe(err);
    expect(() =>
      inSpan('sync', { kind: 'internal' }, () => {
        throw new TypeError('bad');
      }),
    ).toThrow(TypeError);
    const [op, sync] = sdk.exporter.getFinishedSpans();
    expect(op?.status).toEqual({ code: 2, message: 'nope' });
    expect(op?.attributes[ATTR.ERROR_TYPE]).toBe('BROKER_CLOSED');
    expect(op?.events.map((e) => e.name)).toEqual(['exception']);
    expect(sync?.attributes[ATTR.ERROR_TYPE]).toBe('TypeError');
  });

  it('calls an attributes function only for a span that records (a sampler dropping everything calls none)', () => {
    sdk = installTracing({ sampler: new AlwaysOffSampler() });
    const attributes = vi.fn(() => ({ [ATTR.DB_QUERY_TEXT]: 'select 1' }));
    const span = startSpan('q', { kind: 'client', attributes });
    expect(span?.isRecording()).toBe(false);
    expect(attributes).not.toHaveBeenCalled();
    endSpan(span, new Error('ignored on a span that does not record'));
  });

  it('injectContext() writes W3C traceparent for the active span and extractContext() parents a span on it', () => {
    sdk = installTracing();
    const tracer = trace.getTracer('test');
    const headers: Record<string, unknown> = { 'x-attempt': 1 };
    let producer: Span | undefined;
    tracer.startActiveSpan('producer', (span) => {
      producer = span;
      injectContext(headers);
      span.end();
    });
    const { traceId, spanId } = producer!.spanContext();
    expect(headers).toEqual({ 'x-attempt': 1, traceparent: `00-${traceId}-${spanId}-01` });
    endSpan(startSpan('consumer', { kind: 'consumer', parent: extractContext(headers) }));
    const consumer = sdk.exporter.getFinishedSpans().find((s) => s.name === 'consumer');
    expect(consumer?.spanContext().traceId).toBe(traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(spanId);
  });

  it('amqpHeaderGetter reads bytes and a header named in another case, as other AMQP clients send them', () => {
    const value = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(amqpHeaderGetter.get({ traceparent: Buffer.from(value) }, 'traceparent')).toBe(value);
    expect(amqpHeaderGetter.get({ TraceParent: value }, 'traceparent')).toBe(value);
    expect(amqpHeaderGetter.get({ traceparent: 5 }, 'traceparent')).toBeUndefined();
  });

  it('startSpan() links to each context given in links (a batch relay), and null parent makes a root', () => {
    sdk = installTracing();
    const a = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const b = '00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01';
    const tracer = trace.getTracer('test');
    tracer.startActiveSpan('ambient', (ambient) => {
      const links = [extractContext({ traceparent: a }), extractContext({ traceparent: b }), undefined];
      endSpan(startSpan('send batch', { kind: 'producer', parent: null, links }));
      ambient.end();
    });
    const batch = sdk.exporter.getFinishedSpans().find((s) => s.name === 'send batch');
    expect(batch?.parentSpanContext).toBeUndefined();
    expect(batch?.links.map((l) => l.context.spanId)).toEqual(['b7ad6b7169203331', 'c7ad6b7169203331']);
  });

  it('activeContext() captured in one context is restored by withContext() from another', async () => {
    sdk = installTracing();
    const tracer = trace.getTracer('test');
    let captured: ReturnType<typeof activeContext>;
    let rootId = '';
    tracer.startActiveSpan('caller', (span) => {
      rootId = span.spanContext().spanId;
      captured = activeContext();
      span.end();
    });
    expect(activeSpan()).toBeUndefined();
    const seen = await withContext(captured, async () => {
      await Promise.resolve();
      return activeSpan()?.spanContext().spanId;
    });
    expect(seen).toBe(rootId);
  });

  it('activeSpan() answers the active span (local or extracted), and undefined with none or without an SDK', () => {
    expect(connkitActiveSpan()).toBeUndefined(); // no SDK
    sdk = installTracing();
    expect(connkitActiveSpan()).toBeUndefined(); // no active span
    inSpan('x', { kind: 'internal' }, (span) => expect(connkitActiveSpan()).toBe(span));
    const remote = extractContext({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    withContext(remote, () =>
      expect(connkitActiveSpan()?.isRecording() === false && activeSpan()?.spanContext().spanId).toBe(
        'b7ad6b7169203331',
      ),
    );
  });
});
