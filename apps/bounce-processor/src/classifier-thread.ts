/**
 * The body of one classifier worker thread (started by classifier-pool.ts). For each message the
 * host posts ({ id, bytes }) it runs `readReport` and posts back { id, read }, or { id, error }
 * if anything threw; it posts `ready` once loaded. Pure CPU work, no Redis and no I/O, so the host
 * may terminate it at any moment (that is how a message over its time budget is stopped).
 */
import { parentPort } from 'node:worker_threads';
import { type ReadReport, readReport } from './report.js';

/** Messages from the host to a classifier thread. */
export interface ClassifyRequest {
  id: number;
  bytes: Uint8Array;
}

/** Messages from a classifier thread to the host. */
export type ClassifierMessage =
  | { type: 'ready' }
  | { type: 'read'; id: number; read: ReadReport }
  | { type: 'error'; id: number; message: string };

if (parentPort) {
  const port = parentPort;
  port.on('message', (request: ClassifyRequest) => {
    let reply: ClassifierMessage;
    try {
      reply = { type: 'read', id: request.id, read: readReport(request.bytes) };
    } catch (err) {
      reply = { type: 'error', id: request.id, message: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
  port.postMessage({ type: 'ready' } satisfies ClassifierMessage);
}
