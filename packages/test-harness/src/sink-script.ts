/**
 * What a sink's script says and how it becomes replies: the scripted replies per SMTP stage, the
 * records of accepted messages and of rejections, and the rule that only 4xx/5xx replies refuse
 * (2xx/3xx scripted replies mean "accept"); `stages` adds chaos (sink-stages.ts). Pure; used by
 * smtp-sink.ts.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { StageScript } from './sink-stages.js';

const MIN_FAILURE_CODE = 400;

export interface SinkReply {
  code: number;
  enhanced?: string;
  text?: string;
}

/** Who is sending: the client's address (the relay's source IP) and the name it gave in EHLO/HELO. */
export interface SinkClient {
  clientAddress: string;
  clientHello: string;
}

export function clientOf(session: SMTPServerSession): SinkClient {
  return {
    clientAddress: session.remoteAddress.replace(/^::ffff:/, ''),
    clientHello: session.hostNameAppearsAs,
  };
}

export interface SinkMessage extends SinkClient {
  from: string;
  to: string[];
  raw: Buffer;
  receivedAt: number;
  connectionId: string;
  host: string;
  /** The transaction ran over TLS (after STARTTLS). */
  secure: boolean;
}

export interface SinkScript {
  /** Wait this long before the greeting. */
  greetingDelayMs?: number;
  /** A 4xx/5xx reply sent instead of 220, then the connection is closed. */
  greeting?: SinkReply;
  mail?: SinkReply | ((from: string) => SinkReply | undefined);
  /** Per-recipient replies; undefined = 250. A function also sees the client's address and EHLO name. */
  rcpt?: Record<string, SinkReply> | ((to: string, client: SinkClient) => SinkReply | undefined);
  /** Reply after the body; a 250 reply's enhanced/text are used verbatim too. */
  data?: SinkReply | ((msg: SinkMessage) => SinkReply | undefined);
  /** Destroy the socket in the middle of DATA (after the first body bytes arrive). */
  dropInData?: boolean;
  /**
   * Chaos per stage (sink-stages.ts): reply with a given 4xx/5xx (and close), drop, stall or drip,
   * instead of or around the reply the rules above give. Plaintext sinks only (no STARTTLS).
   */
  stages?: StageScript;
}

export interface SinkRejection extends Partial<SinkClient> {
  stage: 'greeting' | 'mail' | 'rcpt' | 'data';
  address?: string;
  reply: SinkReply;
  /** When it was sent (epoch ms); set for rcpt rejections. */
  at?: number;
}

export type ReplyError = Error & { responseCode: number };

/** "<enhanced> <text>" — the part of the reply line after the code. */
export function replyText(reply: SinkReply): string {
  return [reply.enhanced, reply.text].filter((part) => part !== undefined && part !== '').join(' ');
}

export function replyError(reply: SinkReply): ReplyError {
  const err = new Error(replyText(reply)) as ReplyError;
  err.responseCode = reply.code;
  return err;
}

/** The reply if it refuses (4xx/5xx); 2xx/3xx scripted replies mean "accept". */
export function failureOf(reply: SinkReply | undefined): SinkReply | undefined {
  return reply !== undefined && reply.code >= MIN_FAILURE_CODE ? reply : undefined;
}

export function rcptReply(script: SinkScript, to: string, client: SinkClient): SinkReply | undefined {
  const rule = script.rcpt;
  if (rule === undefined) return undefined;
  if (typeof rule === 'function') return rule(to, client);
  const exact = rule[to];
  if (exact !== undefined) return exact;
  const key = Object.keys(rule).find((k) => k.toLowerCase() === to.toLowerCase());
  return key === undefined ? undefined : rule[key];
}
