/**
 * What a scenario prints for its test: the finished spans (simplified) and the facts it observed,
 * as one JSON line on stdout.
 */
import type { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';

export interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  links: string[];
  status: number;
}

/** The finished spans so far. */
export function finishedSpans(): SpanRecord[] {
  const exporter = (globalThis as Record<symbol, unknown>)[Symbol.for('connkit.test.exporter')] as
    InMemorySpanExporter | undefined;
  if (exporter === undefined) throw new Error('run with --import register.mjs');
  return exporter.getFinishedSpans().map((s) => ({
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    attributes: { ...s.attributes },
    links: s.links.map((l) => l.context.spanId),
    status: s.status.code,
  }));
}

/** Prints the report and ends the process. */
export function report(facts: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ facts, spans: finishedSpans() })}\n`);
}
