/**
 * classifyReply: one SMTP reply from Herald's own delivery attempt -> Classification. Pure,
 * synchronous and allocation-light: the delivery path calls it for every failed recipient.
 */
import type { SmtpReply, SmtpStage } from '../errors/index.js';
import { type Classification, classifyFact } from './classify.js';
import { findStatusInText } from './decide.js';
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

export function replyFact(reply: SmtpReply): Fact {
  const fact: Fact = { diagnostic: `${reply.code} ${reply.enhanced ?? ''} ${reply.text}` };
  const replyClass = reply.code ? String(reply.code)[0] : undefined;
  const status = reply.enhanced ?? findStatusInText(reply.text, replyClass);
  if (status) fact.status = status;
  if (reply.code) fact.replyCode = reply.code;
  const command = COMMAND_OF_STAGE[reply.stage];
  if (command) fact.command = command;
  const preset = STAGE_REASONS[reply.stage];
  if (preset) fact.reason = preset;
  return fact;
}

/** Classifies a reply; `address` is the recipient it was for, when there is one. */
export function classifyReply(reply: SmtpReply, address = ''): Classification {
  const remote = reply.host ? { remoteHost: reply.host } : {};
  return classifyFact(replyFact(reply), { address, ...remote });
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
