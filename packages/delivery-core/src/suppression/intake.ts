/**
 * The suppression list at intake (the pipeline's suppression stage, intake/): what a suppressed
 * recipient is answered in mode `refuse`, and the terminal `suppressed` event a recipient dropped
 * in mode `drop` gets instead of a delivery job.
 */
import type { SUPPRESSION_MODES } from '../config/index.js';
import type { RecipientEvent } from '../events/index.js';
import { domainOf } from '../queue/index.js';
import type { SuppressionEntry } from './entries.js';

export type SuppressionMode = (typeof SUPPRESSION_MODES)[number];

/**
 * 550 5.7.1: a local policy refusal ("delivery not authorized", RFC 3463), as SparkPost answers
 * suppressed recipients (554 5.7.1 there). Not 5.1.1: the mailbox may well exist (a complaint,
 * an operator's entry); it is Herald's list that refuses.
 */
export const SUPPRESSED_REPLY = { code: 550, enhanced: '5.7.1' } as const;

export function suppressionReply(
  address: string,
  entry: SuppressionEntry,
): { code: number; enhanced: string; text: string } {
  return { ...SUPPRESSED_REPLY, text: `<${address}>: recipient suppressed (${entry.reason})` };
}

export interface SuppressedRecipient {
  address: string;
  entry: SuppressionEntry;
}

/** The terminal event of a recipient dropped at intake (attempt 0, no delivery). */
export function suppressedEvent(args: {
  messageId: string;
  tenant: string;
  time: number;
  recipient: SuppressedRecipient;
  stream?: string | undefined;
  campaign?: string | undefined;
}): RecipientEvent {
  const { address, entry } = args.recipient;
  return {
    type: 'suppressed',
    time: args.time,
    messageId: args.messageId,
    tenant: args.tenant,
    domain: domainOf(address),
    recipient: address,
    attempt: 0,
    reply: { ...suppressionReply(address, entry), stage: 'rcpt' },
    ...(args.stream ? { stream: args.stream } : {}),
    ...(args.campaign ? { campaign: args.campaign } : {}),
    latencyMs: 0,
  };
}
