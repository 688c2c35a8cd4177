/**
 * The one OTLP/HTTP trace listener: a node:http server on 127.0.0.1 (free port) that answers every
 * POST 200 `{}`, counting requests and bytes. The bench's sink for `--telemetry-sample` discards
 * the bodies, so a run measures what tracing costs the relay, not a collector; a reader given as
 * `onRequest` gets each whole body with its headers (test/lib/otlp-receiver.ts keeps the spans).
 * Owns: its server; close() stops it.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';

export interface OtlpSink {
  /** `http://127.0.0.1:<port>/v1/traces` */
  url: string;
  /** POSTs received (any body). */
  readonly requests: number;
  readonly bytes: number;
  close(): Promise<void>;
}

/** Reads one request's whole body; called before the 200 is answered. */
export type OtlpRequestReader = (body: Buffer, headers: IncomingHttpHeaders) => void;

export async function startOtlpSink(onRequest?: OtlpRequestReader): Promise<OtlpSink> {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (onRequest) chunks.push(chunk);
    });
    req.on('end', () => {
      requests += 1;
      onRequest?.(Buffer.concat(chunks), req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
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
    get bytes() {
      return bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
