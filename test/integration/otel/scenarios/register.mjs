// What an application's OpenTelemetry setup file does, loaded with `node --import` before the app:
// the ESM loader hook of @opentelemetry/instrumentation (import-in-the-middle), a tracer provider
// with an in-memory exporter, the AsyncLocalStorage context manager, the W3C propagator, and the
// contrib instrumentations of the drivers connkit uses (they patch pg's and amqplib's CommonJS
// files through require-in-the-middle when those load). The scenario reads the finished spans from
// the exporter left on globalThis.
import { register } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
registerInstrumentations({ instrumentations: [new PgInstrumentation(), new AmqplibInstrumentation()] });
globalThis[Symbol.for('connkit.test.exporter')] = exporter;
