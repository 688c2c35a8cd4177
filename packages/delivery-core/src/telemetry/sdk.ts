/**
 * The OpenTelemetry SDK for one process or thread, loaded only when `telemetry.otlp` is set
 * (index.ts imports it dynamically): a BasicTracerProvider with
 * ParentBased(TraceIdRatioBased(sample_ratio)), one BatchSpanProcessor (delay `batch_delay`)
 * and the OTLP/HTTP exporter (JSON bodies) to `otlp.endpoint` with `otlp.headers`. Not
 * registered globally. Export failures are the exporter's to log (api diag, silent by default):
 * tracing never fails a message.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TelemetryConfig } from '../config/index.js';
import type { Telemetry, TelemetryOptions } from './index.js';

/** Spans a processor buffers at most (more are dropped, never memory without bound). */
const MAX_QUEUED_SPANS = 8192;
/** Spans per export request. */
const MAX_EXPORT_BATCH = 512;

export function startSdk(config: Readonly<TelemetryConfig>, options: TelemetryOptions): Telemetry {
  const otlp = config.otlp!;
  const exporter = new OTLPTraceExporter({
    url: otlp.endpoint,
    headers: { ...otlp.headers },
    timeoutMillis: otlp.timeout,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.service_name,
      ...(options.process ? { 'herald.process': options.process } : {}),
      ...(options.nodeId ? { 'herald.node_id': options.nodeId } : {}),
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        scheduledDelayMillis: config.batch_delay,
        maxQueueSize: MAX_QUEUED_SPANS,
        maxExportBatchSize: MAX_EXPORT_BATCH,
        exportTimeoutMillis: otlp.timeout,
      }),
    ],
  });
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    tracer: provider.getTracer('herald'),
    forceFlush: () => provider.forceFlush(),
    shutdown: () => (stopped ??= provider.shutdown()),
  };
}
