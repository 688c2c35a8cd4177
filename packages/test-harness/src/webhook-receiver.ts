/**
 * A real webhook receiver for tests: node:http on 127.0.0.1 that verifies every request's
 * signature exactly as Standard Webhooks says (its own HMAC with node:crypto, not Herald's code)
 * and answers by a script: `ok` (204), `fail500`, `hang` (never answers; the client's deadline
 * ends it) or `reset` (destroys the socket). Past the script it answers `ok`, or `fallback`.
 * Every request is recorded in arrival order, with a sequence number shared by all receivers.
 */

/** An event as the body carries it (Herald's HeraldEvent; typed loosely to keep this package free of delivery-core). */
export interface ReceivedEvent {
  type: string;
  messageId?: string;
  tenant?: string;
  [field: string]: unknown;
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour = 'ok' | 'fail500' | 'hang' | 'reset';

export interface ReceivedRequest {
  seq: number;
  id: string;
  timestamp: string;
  signature: string;
  contentType: string;
  body: string;
  events: ReceivedEvent[];
  verified: boolean;
  answer: Behaviour;
}

/** Standard Webhooks verification, written from the spec: v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>. */
export function verifySignature(
  secret: string,
  id: string,
  timestamp: string,
  body: string,
  header: string,
): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return header.split(' ').some((part) => {
    const [version, sig] = part.split(',');
    if (version !== 'v1' || !sig) return false;
    const given = Buffer.from(sig, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

let sequence = 0;
const MAX_TIMESTAMP_SKEW_S = 300;

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[];
  /** Requests answered `hang` whose connection is still open. */
  readonly hanging: number;
  script: Behaviour[];
  fallback: Behaviour;
  /** Resolves once `done()` holds after a request (or now); rejects after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(secret: string, script: Behaviour[] = []): Promise<Receiver> {
  const changes = new EventEmitter();
  const requests: ReceivedRequest[] = [];
  let hanging = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      const timestamp = String(req.headers['webhook-timestamp'] ?? '');
      const signature = String(req.headers['webhook-signature'] ?? '');
      const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= MAX_TIMESTAMP_SKEW_S;
      let events: ReceivedEvent[] = [];
      try {
        events = (JSON.parse(body) as { events: ReceivedEvent[] }).events;
      } catch {}
      const answer = receiver.script.shift() ?? receiver.fallback;
      requests.push({
        seq: ++sequence,
        id,
        timestamp,
        signature,
        contentType: String(req.headers['content-type'] ?? ''),
        body,
        events,
        verified: fresh && verifySignature(secret, id, timestamp, body, signature),
        answer,
      });
      if (answer === 'ok') res.writeHead(204).end();
      else if (answer === 'fail500') res.writeHead(500).end('no');
      else if (answer === 'reset') req.socket.destroy();
      else {
        hanging++;
        res.on('close', () => {
          hanging--;
          changes.emit('change');
        });
      }
      changes.emit('change');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    accepted: () => requests.filter((r) => r.answer === 'ok'),
    get hanging() {
      return hanging;
    },
    script,
    fallback: 'ok',
    waitFor(done, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!done()) return;
          clearTimeout(timer);
          changes.off('change', check);
          resolve();
        };
        const timer = setTimeout(() => {
          changes.off('change', check);
          reject(
            new Error(`webhook receiver: condition not met in ${timeoutMs} ms (${requests.length} requests)`),
          );
        }, timeoutMs);
        changes.on('change', check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
