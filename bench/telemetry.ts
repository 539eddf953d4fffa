/**
 * `npm run bench -- telemetry`: what connkit's observability hooks cost around one awaited call — a
 * `diagnostics_channel` TracingChannel without and with a subscriber, and a span (`inSpan`) without
 * `@opentelemetry/api`, with the API but no SDK, and with an SDK recording every span (a processor
 * that drops it at the end) — guarded by `tracingEnabled()` as hot paths do, and unguarded (the
 * span's options and closures made on every call). The first row is the bare call; the ratio column is bare ÷ hooked, so
 * above 1.00× is what the hook costs.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { trace } from '@opentelemetry/api';
import { AlwaysOnSampler, BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { traceCall, type TracedOperation } from '../src/internal/channels.js';
import { setOtelApiForTests } from '../src/internal/otel-api.js';
import { inSpan, tracingEnabled } from '../src/internal/tracing.js';
import { startClock, type Contender, type RoundResult, type Suite } from './harness.js';

const CALLS = 200_000;

interface Ctx extends TracedOperation {
  readonly n: number;
}

const quiet = diagnosticsChannel.tracingChannel<unknown, Ctx>('connkit:bench:quiet');
const heard = diagnosticsChannel.tracingChannel<unknown, Ctx>('connkit:bench:heard');
const noop = (): void => undefined;
heard.subscribe({ start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop });

const work = (n: number): Promise<number> => Promise.resolve(n);

/** `CALLS` awaited calls of `call`, one after the other. */
async function loop(call: (n: number) => Promise<number>): Promise<RoundResult> {
  const clock = startClock();
  let sum = 0;
  for (let i = 0; i < CALLS; i++) sum += await call(i);
  if (sum < 0) throw new Error('unreachable');
  return { ops: CALLS, ...clock.read() };
}

/** Runs `fn` with the API hidden from connkit (as if `@opentelemetry/api` were not installed). */
async function withoutApi<R>(fn: () => Promise<R>): Promise<R> {
  setOtelApiForTests(null);
  try {
    return await fn();
  } finally {
    setOtelApiForTests(undefined);
  }
}

/** Runs `fn` with an SDK registered that records every span and drops it when it ends. */
async function withSdk<R>(fn: () => Promise<R>): Promise<R> {
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new NoopSpanProcessor()],
  });
  trace.setGlobalTracerProvider(provider);
  try {
    return await fn();
  } finally {
    trace.disable();
  }
}

const span = (n: number) => inSpan('bench', { kind: 'client', attributes: () => ({ n }) }, () => work(n));
// How the adapters call it on a hot path: the options and closures are only made when spans record.
const guarded = (n: number) => (tracingEnabled() ? span(n) : work(n));

const contenders: Contender[] = [
  { name: 'bare call', run: () => loop(work) },
  {
    name: 'TracingChannel, no subscriber',
    run: () => loop((n) => (quiet.hasSubscribers ? traceCall(quiet, { n }, () => work(n)) : work(n))),
  },
  {
    name: 'TracingChannel, one subscriber',
    run: () => loop((n) => (heard.hasSubscribers ? traceCall(heard, { n }, () => work(n)) : work(n))),
  },
  { name: 'tracingEnabled() ? inSpan, no @opentelemetry/api', run: () => withoutApi(() => loop(guarded)) },
  { name: 'tracingEnabled() ? inSpan, API without SDK', run: () => loop(guarded) },
  { name: 'inSpan unguarded, no @opentelemetry/api', run: () => withoutApi(() => loop(span)) },
  { name: 'inSpan unguarded, API without SDK', run: () => loop(span) },
  { name: 'inSpan, SDK recording', run: () => withSdk(() => loop(guarded)) },
];

/** The suite run by `npm run bench -- telemetry`. */
export const suite: Suite = {
  name: 'telemetry',
  description: `${CALLS / 1000}k awaited calls, bare and inside each observability hook (ops/s = calls/s)`,
  contenders,
};
