/**
 * The body of one classifier worker thread (started by classifier-pool.ts). For each message the
 * host posts ({ id, bytes }) it runs `readReport` and posts back { id, read }, or { id, error }
 * if anything threw; it posts `ready` once loaded. Pure CPU work, no Redis and no I/O, so the host
 * may terminate it at any moment (that is how a message over its time budget is stopped).
 * Operator rules come as text in `workerData` (the host checked them) and are parsed once here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ClassifyOptions, parseOperatorRules } from '@herald/delivery-core/bounce';
import { type ReadReport, readReport } from './report.js';

/** The text of an operator rules file and its name (for errors). */
export interface RulesText {
  text: string;
  source: string;
}

/** What the host gives a classifier thread at start. */
export interface ClassifierThreadData {
  rules?: RulesText | undefined;
}

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
  const given = (workerData as ClassifierThreadData | null)?.rules;
  const options: ClassifyOptions = given ? { rules: parseOperatorRules(given.text, given.source) } : {};
  port.on('message', (request: ClassifyRequest) => {
    let reply: ClassifierMessage;
    try {
      reply = { type: 'read', id: request.id, read: readReport(request.bytes, options) };
    } catch (err) {
      reply = { type: 'error', id: request.id, message: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
  port.postMessage({ type: 'ready' } satisfies ClassifierMessage);
}
