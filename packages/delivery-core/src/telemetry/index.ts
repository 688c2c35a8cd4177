/**
 * OpenTelemetry traces, behind one narrow door. `startTelemetry(config.telemetry)` answers a
 * `Telemetry`: with `telemetry.otlp` set, a tracer provider of this process or thread (sdk.ts,
 * loaded by dynamic import only then: ParentBased(TraceIdRatioBased(sample_ratio)), a
 * BatchSpanProcessor, the OTLP/HTTP JSON exporter); otherwise `NO_TELEMETRY`, whose tracer is
 * @opentelemetry/api's no-op (no SDK module is ever loaded, a span costs one small object).
 * Nothing is registered globally: each Herald (a relay, each delivery thread, a bounce-processor)
 * holds its own provider and passes its tracer down, and contexts are passed explicitly.
 * A message's trace crosses processes as one W3C `traceparent` (traceparent.ts): the accept span's,
 * stored in the job data and the accepted event. `shutdown()` flushes what is batched.
 * Span names are stable (`SPAN_NAMES`) and documented in README and ARCHITECTURE.
 */
import {
  type Context,
  context as contexts,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { TelemetryConfig } from '../config/index.js';

export type { Attributes, Context, Link, Span, Tracer } from '@opentelemetry/api';
export { SpanKind, SpanStatusCode } from '@opentelemetry/api';
export { contextOf, parseTraceparent, traceparentOf } from './traceparent.js';

/** The spans Herald makes; names are part of the operator's contract. */
export const SPAN_NAMES = {
  /** One SMTP submission session, connect to close (relay). */
  session: 'smtp.session',
  /** One `POST /v1/messages` request (HTTP API). */
  httpSend: 'http.send',
  /** The intake pipeline for one message: content checks, prepare, enqueue. */
  accept: 'herald.accept',
  /** The durable write (List-Unsubscribe, DKIM, one MULTI/EXEC, the strict barrier). */
  enqueue: 'herald.enqueue',
  /** One counted delivery attempt of one job (a child of the message's accept span). */
  attempt: 'herald.delivery.attempt',
  /** One report at the bounce-processor (linked to the message's trace when matched). */
  bounceIntake: 'bounce.intake',
} as const;

export interface Telemetry {
  /** False: the no-op tracer; callers may skip building attributes. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports every ended span now. */
  forceFlush(): Promise<void>;
  /** Flushes, then stops exporting (a Herald's close calls it last). */
  shutdown(): Promise<void>;
}

/** What the process is, for the `herald.process` resource attribute. */
export interface TelemetryOptions {
  process?: string;
  nodeId?: string | undefined;
}

const NOOP_TRACER: Tracer = new ProxyTracerProvider().getTracer('herald');
const done = () => Promise.resolve();

/** Tracing off: the no-op tracer, nothing to flush. */
export const NO_TELEMETRY: Telemetry = {
  enabled: false,
  tracer: NOOP_TRACER,
  forceFlush: done,
  shutdown: done,
};

let sdkStarts = 0;
/** How many tracer providers this module instance started (tests: 0 while telemetry is off). */
export function telemetrySdkStarts(): number {
  return sdkStarts;
}

/** The tracer setup for `config` (the config's `telemetry` section); no SDK loaded when off. */
export async function startTelemetry(
  config: Readonly<TelemetryConfig> | undefined,
  options: TelemetryOptions = {},
): Promise<Telemetry> {
  if (!config?.otlp) return NO_TELEMETRY;
  const { startSdk } = await import('./sdk.js');
  sdkStarts += 1;
  return startSdk(config, options);
}

/** A context whose active span is `span` (the parent of the spans started with it). */
export function withSpan(span: Span, parent: Context = ROOT_CONTEXT): Context {
  return trace.setSpan(parent, span);
}

/** The span active in `context`, if any. */
export function spanIn(context: Context | undefined): Span | undefined {
  return context ? trace.getSpan(context) : undefined;
}

/** Ends `span`, marked as an error with `message` when given. */
export function endSpan(span: Span, error?: string): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end();
}

/** The ambient context (for callers handed none). */
export const activeContext = (): Context => contexts.active();
