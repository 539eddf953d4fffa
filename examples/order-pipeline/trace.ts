/**
 * `--trace`: an in-memory OpenTelemetry SDK for the demo, and one order's trace printed as a tree at
 * the end — the order's root span, the outbox's `create` span (enqueue), the relay's `send` span
 * (publish), the consumer's `process` span (deliver) and the handler's span (apply), each with its
 * duration and its start after the root's. Loaded only with `--trace` (the OpenTelemetry packages
 * are the project's dev-dependencies, not connkit's).
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

export interface DemoTracing {
  /** Runs `fn` inside a new active span named `name` (ended when `fn` settles). */
  inSpan<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** The tree of one order's trace (the first order whose trace went all the way through). */
  formatOneOrder(): string;
  uninstall(): Promise<void>;
}

/** Registers the SDK on the API's globals, as an application's setup file would. */
export function installDemoTracing(): DemoTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracer = trace.getTracer('order-pipeline');
  return {
    inSpan: (name, fn) =>
      tracer.startActiveSpan(name, async (span) => {
        try {
          return await fn();
        } finally {
          span.end();
        }
      }),
    formatOneOrder: () => formatOneOrder(exporter.getFinishedSpans()),
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** What each step is, by span name (pipeline.ts names the root `order <id>` and the handler's span `apply order <id>`). */
function roleOf(span: ReadableSpan): string {
  const name = span.name;
  if (name.startsWith('order ')) return 'root';
  if (name.startsWith('create ')) return 'enqueue';
  if (name.startsWith('send ')) return 'publish';
  if (name.endsWith(' process')) return 'deliver';
  if (name.startsWith('apply ')) return 'apply';
  return 'other';
}

const ms = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;

function formatOneOrder(spans: ReadableSpan[]): string {
  const byTrace = new Map<string, ReadableSpan[]>();
  for (const s of spans) {
    const id = s.spanContext().traceId;
    byTrace.set(id, [...(byTrace.get(id) ?? []), s]);
  }
  // The order with the lowest id whose trace reached the handler.
  const complete = [...byTrace.values()]
    .filter((t) => t.some((s) => roleOf(s) === 'root') && t.some((s) => roleOf(s) === 'apply'))
    .map((t) => ({ spans: t, root: t.find((s) => roleOf(s) === 'root')! }))
    .sort((a, b) => Number(a.root.name.slice(6)) - Number(b.root.name.slice(6)));
  const chosen = complete[0];
  if (chosen === undefined) return 'trace: no order went all the way through while traced';
  const children = new Map<string, ReadableSpan[]>();
  for (const s of chosen.spans) {
    const parent = s.parentSpanContext?.spanId ?? '';
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const start = ms(chosen.root.startTime);
  const lines = [`trace ${chosen.root.spanContext().traceId} (${chosen.root.name})`];
  const walk = (span: ReadableSpan, prefix: string, last: boolean, depth: number): void => {
    const branch = depth === 0 ? '' : last ? '└─ ' : '├─ ';
    const label = `${prefix}${branch}${span.name} [${roleOf(span)}]`;
    lines.push(
      `${label.padEnd(60)} ${ms(span.duration).toFixed(1).padStart(8)} ms  at +${(ms(span.startTime) - start).toFixed(1)} ms`,
    );
    const kids = (children.get(span.spanContext().spanId) ?? []).sort(
      (a, b) => ms(a.startTime) - ms(b.startTime),
    );
    const next = depth === 0 ? '' : `${prefix}${last ? '   ' : '│  '}`;
    kids.forEach((k, i) => walk(k, next, i === kids.length - 1, depth + 1));
  };
  walk(chosen.root, '', true, 0);
  return lines.join('\n');
}
