/**
 * An in-process OTLP/HTTP trace receiver for the telemetry tests: a node:http server on
 * 127.0.0.1 (free port) taking `POST /v1/traces` with the exporter's JSON body (ExportTraceServiceRequest),
 * answering 200 `{}`, and keeping every span as plain data (ids as hex, attributes flattened, the
 * resource's attributes with each span). Waiting is by event: each request wakes the waiters.
 * The listener is the bench's OTLP sink (apps/cli/src/bench/otlp-sink.ts), given a reader of
 * each body. Owns: its sink; close() stops it.
 */
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { startOtlpSink } from '../../apps/cli/src/bench/otlp-sink.js';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>/v1/traces` */
  url: string;
  /** POSTs received (any body). */
  readonly requests: number;
  readonly spans: readonly ReceivedSpan[];
  /** The headers of the last request. */
  readonly lastHeaders: Readonly<IncomingHttpHeaders>;
  /** Resolves with the spans once `done(spans)` holds; rejects after `timeoutMs` naming `what`. */
  waitFor<T>(
    what: string,
    done: (spans: readonly ReceivedSpan[]) => T | undefined,
    timeoutMs?: number,
  ): Promise<T>;
  close(): Promise<void>;
}

const DEFAULT_WAIT_MS = 20_000;

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
type KeyValue = { key: string; value: AnyValue };

function plainValue(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return undefined;
}

const flatten = (kvs: KeyValue[] | undefined) =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plainValue(kv.value)]));

/** OTLP JSON ids are hex; a base64 one (protobuf JSON mapping) is turned into hex too. */
function hexId(id: string | undefined, bytes: number): string | undefined {
  if (!id) return undefined;
  if (new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(id)) return id;
  return Buffer.from(id, 'base64').toString('hex');
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        attributes?: KeyValue[];
        links?: { traceId: string; spanId: string }[];
      }[];
    }[];
  }[];
}

function spansOf(body: ExportRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = flatten(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? []) {
        const parent = hexId(s.parentSpanId, 8);
        out.push({
          traceId: hexId(s.traceId, 16)!,
          spanId: hexId(s.spanId, 8)!,
          ...(parent ? { parentSpanId: parent } : {}),
          name: s.name,
          attributes: flatten(s.attributes),
          resource,
          links: (s.links ?? []).map((l) => ({
            traceId: hexId(l.traceId, 16)!,
            spanId: hexId(l.spanId, 8)!,
          })),
        });
      }
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const arrivals = new EventEmitter();
  let lastHeaders: IncomingHttpHeaders = {};
  const sink = await startOtlpSink((body, headers) => {
    lastHeaders = headers;
    if (headers['content-type']?.includes('json'))
      spans.push(...spansOf(JSON.parse(body.toString('utf8')) as ExportRequest));
    arrivals.emit('request');
  });
  return {
    url: sink.url,
    get requests() {
      return sink.requests;
    },
    spans,
    get lastHeaders() {
      return lastHeaders;
    },
    waitFor<T>(
      what: string,
      done: (all: readonly ReceivedSpan[]) => T | undefined,
      timeoutMs = DEFAULT_WAIT_MS,
    ) {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const value = done(spans);
          if (value === undefined) return;
          clearTimeout(timer);
          arrivals.off('request', check);
          resolve(value);
        };
        const timer = setTimeout(() => {
          arrivals.off('request', check);
          reject(new Error(`timed out waiting for ${what}; spans: ${spans.map((s) => s.name).join(', ')}`));
        }, timeoutMs);
        arrivals.on('request', check);
        check();
      });
    },
    close: () => sink.close(),
  };
}
