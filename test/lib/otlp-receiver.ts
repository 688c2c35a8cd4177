/**
 * An in-process OTLP/HTTP trace receiver for the telemetry tests: a node:http server on
 * 127.0.0.1 (free port) taking `POST /v1/traces` with the exporter's JSON body (ExportTraceServiceRequest),
 * answering 200 `{}`, and keeping every span as plain data (ids as hex, attributes flattened, the
 * resource's attributes with each span). Waiting is by event: each request wakes the waiters.
 * Owns: its server; close() stops it. `discard`: count requests, keep nothing (the bench's sink).
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';

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
  readonly lastHeaders: Readonly<Record<string, string | string[] | undefined>>;
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

export async function startOtlpReceiver(opts: { discard?: boolean } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const arrivals = new EventEmitter();
  let requests = 0;
  let lastHeaders: Record<string, string | string[] | undefined> = {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      if (!opts.discard) chunks.push(c);
    });
    req.on('end', () => {
      requests += 1;
      lastHeaders = req.headers;
      if (!opts.discard && req.headers['content-type']?.includes('json'))
        spans.push(...spansOf(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      arrivals.emit('request');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    get requests() {
      return requests;
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
