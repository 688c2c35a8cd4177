/**
 * classifyReply: one SMTP reply from Herald's own delivery attempt -> Classification. Pure,
 * synchronous and allocation-light: the delivery path calls it for every failed recipient. The
 * remote server wrote the reply: at most MAX_DIAGNOSTIC_CHARS of its text are read.
 */
import type { SmtpReply, SmtpStage } from '../errors/index.js';
import { type Classification, type ClassifyOptions, classifyFact } from './classify.js';
import { findStatusInText } from './decide.js';
import { MAX_DIAGNOSTIC_CHARS } from './limits.js';
import type { Fact, SmtpCommand } from './probes.js';
import type { Reason } from './vocabulary.js';

const COMMAND_OF_STAGE: Readonly<Partial<Record<SmtpStage, SmtpCommand>>> = {
  connect: 'CONN',
  greeting: 'CONN',
  ehlo: 'EHLO',
  starttls: 'STARTTLS',
  auth: 'AUTH',
  mail: 'MAIL',
  rcpt: 'RCPT',
  data: 'DATA',
};

/**
 * Stages whose failure names the reason by itself: 'connect' replies are Herald's own (no server
 * answered, so the network failed); a refused STARTTLS is a TLS failure whatever the code.
 */
const STAGE_REASONS: Readonly<Partial<Record<SmtpStage, Reason>>> = {
  connect: 'networkerror',
  starttls: 'failedstarttls',
};

/** An RFC 3463 enhanced status code, whole. */
const ENHANCED_RE = /^[245]\.\d{1,3}\.\d{1,3}$/;

/** A basic reply code Herald can act on: 2xx to 5xx. */
function isReplyCode(code: number): boolean {
  return Number.isInteger(code) && code >= 200 && code <= 599;
}

export function replyFact(reply: SmtpReply): Fact {
  const text = String(reply.text ?? '').slice(0, MAX_DIAGNOSTIC_CHARS);
  const enhanced = reply.enhanced && ENHANCED_RE.test(reply.enhanced) ? reply.enhanced : undefined;
  const fact: Fact = { diagnostic: `${reply.code} ${enhanced ?? ''} ${text}` };
  const code = isReplyCode(reply.code) ? reply.code : undefined;
  const replyClass = code ? String(code)[0] : undefined;
  const status = enhanced ?? findStatusInText(text, replyClass);
  if (status) fact.status = status;
  if (code) fact.replyCode = code;
  const command = COMMAND_OF_STAGE[reply.stage];
  if (command) fact.command = command;
  const preset = STAGE_REASONS[reply.stage];
  if (preset) fact.reason = preset;
  return fact;
}

/** Classifies a reply; `address` is the recipient it was for, when there is one. */
export function classifyReply(reply: SmtpReply, address = '', options: ClassifyOptions = {}): Classification {
  const remote = reply.host ? { remoteHost: reply.host } : {};
  return classifyFact(replyFact(reply), { address, ...remote }, options);
}

/** The two things a retry schedule needs: the reason and whether the address is dead. */
export interface RetryView {
  reason: Reason;
  hard: boolean;
}

export function retryView(reply: SmtpReply): RetryView {
  const { reason, hard } = classifyReply(reply);
  return { reason, hard };
}
