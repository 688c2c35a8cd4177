/**
 * The bench's OTLP/HTTP trace sink for `--telemetry-sample`: a node:http server on 127.0.0.1 (free
 * port) that answers every POST 200 `{}` and discards the body, counting requests and bytes, so a
 * run measures what tracing costs the relay, not a collector. Owns: its server; close() stops it.
 */
import { createServer } from 'node:http';

export interface OtlpSink {
  /** `http://127.0.0.1:<port>/v1/traces` */
  url: string;
  readonly requests: number;
  readonly bytes: number;
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      requests += 1;
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
