/**
 * One webhook request: POST `body` to `url` with `headers`, within `timeoutMs` from the start to
 * the response's status line and headers. Any 2xx is success; the response body is read and
 * discarded in the background, at most MAX_RESPONSE_BYTES and within the same deadline, then the
 * socket is dropped. Redirects are not followed (a 3xx is a failure). Never throws: the outcome is
 * a value with the result class the metrics count and a short error text (no response body).
 */
import http from 'node:http';
import https from 'node:https';

/** Response bytes read (and discarded) at most before the connection is dropped. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export type PostResult = 'success' | 'http_error' | 'timeout' | 'connection_error';

export interface PostOutcome {
  result: PostResult;
  status?: number;
  /** For a failure: "HTTP 500", "timeout after 10000 ms", "ECONNRESET" … */
  error?: string;
}

export function postBatch(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<PostOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const request = client.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      ...(signal ? { signal } : {}),
    });
    const timer = setTimeout(() => {
      settle({ result: 'timeout', error: `timeout after ${timeoutMs} ms` });
      request.destroy();
    }, timeoutMs);
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      settle(
        status >= 200 && status < 300
          ? { result: 'success', status }
          : { result: 'http_error', status, error: `HTTP ${status}` },
      );
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) response.destroy();
      });
      response.on('error', () => {});
      response.on('close', () => clearTimeout(timer));
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      settle({ result: 'connection_error', error: err.code ?? err.name ?? 'connection error' });
    });
    request.on('close', () => {
      if (!settled) settle({ result: 'connection_error', error: 'connection closed' });
    });
    request.end(body);
  });
}
