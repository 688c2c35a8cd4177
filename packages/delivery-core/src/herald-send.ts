/**
 * `herald.send()`: the library's submission path, the same checks the relay makes over SMTP.
 * Addresses are checked (553 5.1.3 per bad recipient), the tenant's suppression list screens the
 * recipients (refused or dropped per tenant), the message is composed from fields or taken raw,
 * its X-Herald-Stream / X-Herald-Campaign instructions are taken out, the tenant's sender domains
 * and (when asked) the DMARC pre-check apply, trace headers are added, and the message is
 * spooled through `enqueuePrepared` (List-Unsubscribe, DKIM, one MULTI/EXEC). Resolves once
 * Redis acknowledged it; invalid input is one of the HERALD_SEND_* codes (errors/index.ts).
 */
import { checkAddress } from './address.js';
import type { DkimKeyStore } from './auth/index.js';
import { DEFAULT_TENANT, type HeraldConfig, tenantPolicy } from './config/index.js';
import { HeraldError } from './errors/index.js';
import {
  checkSenderDomains,
  dmarcProblemFor,
  type EnqueuePreparedArgs,
  screenForSend,
} from './herald-parts.js';
import {
  cleanIntake,
  composeMessage,
  type MessageFields,
  prepareMessage,
  TRAFFIC_NAME_HINT,
  takeInstructions,
  trafficName,
} from './message/index.js';
import { newMessageId } from './queue/index.js';
import type { SuppressionList } from './suppression/index.js';

export interface SendInput extends Partial<Omit<MessageFields, 'from' | 'to'>> {
  /** Envelope sender (and From: when composing). '' or '<>' is the null sender. */
  from: string;
  /** Envelope recipients (and To: when composing). */
  to: string | string[];
  /** A complete RFC 5322 message; when given, subject/text/html/headers are ignored. */
  raw?: Buffer | string;
  tenant?: string;
  /** Traffic stream (default `transactional`); wins over an X-Herald-Stream header in the message. */
  stream?: string;
  /** Campaign name; wins over an X-Herald-Campaign header in the message. */
  campaign?: string;
}

export interface SendResult {
  messageId: string;
  /** The Message-ID header of the spooled message. */
  messageIdHeader: string;
  accepted: string[];
  rejected: { address: string; code: number; enhanced: string; reason: string }[];
}

export interface SendDeps {
  config: HeraldConfig;
  suppression: SuppressionList;
  dkimStore: DkimKeyStore | undefined;
  enqueuePrepared(args: EnqueuePreparedArgs): Promise<void>;
}

export async function sendMessage(deps: SendDeps, message: SendInput): Promise<SendResult> {
  const { config, suppression } = deps;
  const from = message.from === '<>' ? '' : message.from;
  if (from !== '' && checkAddress(from)) {
    throw new HeraldError(
      'HERALD_SEND_BAD_SENDER',
      `invalid sender address: ${JSON.stringify(message.from)}`,
    );
  }
  const stream = sendName(message, 'stream');
  const campaign = sendName(message, 'campaign');
  const accepted: string[] = [];
  const rejected: SendResult['rejected'] = [];
  for (const address of ([] as string[]).concat(message.to)) {
    const problem = checkAddress(address);
    if (problem) rejected.push({ address, code: 553, enhanced: '5.1.3', reason: problem });
    else accepted.push(address);
  }
  const tenant = message.tenant ?? DEFAULT_TENANT;
  const screened = await screenForSend(suppression, config, tenant, accepted, rejected);
  const id = newMessageId();
  if (screened.accepted.length === 0)
    return { messageId: id, messageIdHeader: '', accepted: screened.accepted, rejected };
  const raw =
    message.raw !== undefined
      ? Buffer.isBuffer(message.raw)
        ? message.raw
        : Buffer.from(message.raw, 'utf8')
      : await composeMessage({ ...message, from: message.from, to: message.to });
  // The relay's intake hygiene (NUL, bare CR) holds here too; then X-Herald-Stream /
  // X-Herald-Campaign in the message are instructions: taken out here too.
  const clean = cleanIntake(raw);
  if (!clean.ok) throw new HeraldError('HERALD_SEND_BAD_CONTENT', clean.problem);
  const taken = takeInstructions(clean.body);
  if (!taken.ok) throw new HeraldError('HERALD_SEND_BAD_INSTRUCTION', taken.problem);
  checkSenderDomains(config, tenant, from, taken.body);
  if (tenantPolicy(config, tenant).refuse_dmarc_fail) {
    const problem = dmarcProblemFor(config, deps.dkimStore, { tenant, from, body: taken.body });
    if (problem) throw new HeraldError('HERALD_SEND_DMARC_FAIL', problem);
  }
  const prepared = prepareMessage(
    taken.body,
    { helo: 'api', clientAddress: '127.0.0.1', by: config.smtp.hostname, protocol: 'HTTP', id },
    new Date(),
  );
  await deps.enqueuePrepared({
    id,
    from,
    recipients: screened.deliver,
    dropped: screened.dropped,
    body: prepared.body,
    tenant,
    source: 'api',
    stream: stream ?? taken.stream,
    campaign: campaign ?? taken.campaign,
  });
  return { messageId: id, messageIdHeader: prepared.messageIdHeader, accepted: screened.accepted, rejected };
}

/** `input.stream` / `input.campaign` lower-cased; HERALD_SEND_BAD_INSTRUCTION when it is not a valid name. */
function sendName(input: SendInput, key: 'stream' | 'campaign'): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  const name = trafficName(value);
  if (name === undefined) {
    throw new HeraldError(
      'HERALD_SEND_BAD_INSTRUCTION',
      `invalid ${key} ${JSON.stringify(value)}: ${TRAFFIC_NAME_HINT}`,
    );
  }
  return name;
}
