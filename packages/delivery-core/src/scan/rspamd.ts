/**
 * rspamd's HTTP protocol, the client side: one `POST <url>/checkv2` per message with the envelope
 * in request headers (From, one Rcpt per recipient, IP, Helo, User, Queue-Id, Password) and the
 * message as the body; the JSON answer's score, action and symbols. The whole exchange (connect,
 * send, answer) is bounded by one deadline; anything but a 200 with a readable score is an error
 * (the caller decides fail-open or fail-closed).
 */
import http from 'node:http';

/** The envelope facts rspamd reads from request headers. */
export interface ScanEnvelope {
  from: string;
  recipients: readonly string[];
  /** The submitting client's address (rspamd's IP). */
  ip?: string | undefined;
  helo?: string | undefined;
  /** The authenticated user (rspamd's User): with it rspamd treats the mail as outbound. */
  user?: string | undefined;
  queueId: string;
}

export interface RspamdAnswer {
  score: number;
  /** rspamd's own action (`no action`, `add header`, `reject`, ...): informative, Herald decides by score. */
  action: string;
  /** Symbol names that fired, highest score first. */
  symbols: string[];
}

export interface RspamdTarget {
  url: string;
  timeoutMs: number;
  password?: string | undefined;
}

/** The largest answer read from rspamd (its JSON for one message is a few KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Symbols kept in an answer (and so in the quarantine record and event). */
const MAX_SYMBOLS = 20;

export class ScanError extends Error {
  override readonly name = 'ScanError';
}

export function checkv2(target: RspamdTarget, envelope: ScanEnvelope, body: Buffer): Promise<RspamdAnswer> {
  const url = new URL('/checkv2', target.url);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'message/rfc822',
    'content-length': body.length,
    'queue-id': envelope.queueId,
    rcpt: [...envelope.recipients],
  };
  if (envelope.from !== '') headers.from = envelope.from;
  if (envelope.ip) headers.ip = envelope.ip;
  if (envelope.helo) headers.helo = envelope.helo;
  if (envelope.user) headers.user = envelope.user;
  if (target.password) headers.password = target.password;
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers, signal: AbortSignal.timeout(target.timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new ScanError('rspamd answer too large'));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new ScanError(`rspamd answered HTTP ${res.statusCode}`));
          try {
            resolve(parseAnswer(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) =>
      reject(
        err.name === 'AbortError' || err.name === 'TimeoutError'
          ? new ScanError(`rspamd did not answer within ${target.timeoutMs} ms`)
          : err,
      ),
    );
    req.end(body);
  });
}

/** The parts of a /checkv2 JSON answer Herald uses; ScanError when it has no numeric score. */
export function parseAnswer(text: string): RspamdAnswer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ScanError('rspamd answer is not JSON');
  }
  const answer = json as { score?: unknown; action?: unknown; symbols?: unknown };
  if (typeof answer.score !== 'number' || !Number.isFinite(answer.score))
    throw new ScanError('rspamd answer has no score');
  const symbols =
    typeof answer.symbols === 'object' && answer.symbols !== null
      ? Object.entries(answer.symbols as Record<string, { score?: number }>)
          .sort(([, a], [, b]) => (b?.score ?? 0) - (a?.score ?? 0))
          .map(([name]) => name)
          .slice(0, MAX_SYMBOLS)
      : [];
  return { score: answer.score, action: typeof answer.action === 'string' ? answer.action : '', symbols };
}
