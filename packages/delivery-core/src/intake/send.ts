/**
 * `herald.send()`: the library's front end to the intake pipeline, a translator and nothing more.
 * It runs the same stages the relay runs over SMTP (tenant → envelope sender → recipients:
 * syntax, limits, suppression → content: size, hygiene, instruction headers, From-header sender
 * domains, DMARC pre-check → enqueue with List-Unsubscribe and DKIM) and translates their
 * Refusals: one about a recipient becomes an entry of `rejected` (the others are still sent), any
 * other is thrown as an IntakeRefusedError (a HeraldError with the catalogue's HERALD_* code and
 * the refusal, e.g. HERALD_SEND_DOMAIN_NOT_ALLOWED, or HERALD_REDIS_UNAVAILABLE when Redis fails). Resolves
 * once Redis acknowledged the enqueue.
 */
import { mailboxAddress, uniqueAddresses } from '../address/index.js';
import { envidProblem, type MessageDsn, parseNotify, parseOrcpt, parseRet } from '../dsn/index.js';
import { HeraldError } from '../errors/index.js';
import {
  composeMessage,
  type MessageFields,
  prepareMessage,
  TRAFFIC_NAME_HINT,
  trafficName,
} from '../message/index.js';
import type { Context } from '../telemetry/index.js';
import type { EnqueueArgs, ScreenedRecipients, StepOptions } from './enqueue.js';
import { IntakeRefusedError, isRefusal, type Refusal, refuse } from './refusals.js';
import type { IntakeStages } from './stages.js';

export interface SendInput extends Partial<Omit<MessageFields, 'from' | 'to'>> {
  /** Envelope sender (and From: when composing). '' or '<>' is the null sender. */
  from: string;
  /** Envelope recipients (and To: when composing); `cc` and `bcc` are envelope recipients too. */
  to: string | string[];
  /** A complete RFC 5322 message; when given, subject/text/html/headers are ignored. */
  raw?: Buffer | string;
  /** Default `default`; a tenant name (letters, digits, `_ . -`). */
  tenant?: string;
  /** Traffic stream (default `transactional`); wins over an X-Herald-Stream header in the message. */
  stream?: string;
  /** Campaign name; wins over an X-Herald-Campaign header in the message. */
  campaign?: string;
  /**
   * An Idempotency-Key (the HTTP API): `answer` turns the result into the record kept under
   * `scope` for `ttlMs`, written in the enqueue's MULTI (see idempotency.ts).
   */
  idempotency?: { scope: string; ttlMs: number; answer(result: SendResult): string };
  /** The caller's trace context (the HTTP API's `http.send` span): the accept span's parent. */
  trace?: Context | undefined;
  /**
   * Delivery status notifications (the SMTP DSN parameters, RFC 3461): `notify` for every
   * recipient (`['NEVER']`, or any of SUCCESS, FAILURE, DELAY), `ret` (FULL / HDRS), `envid`, and
   * `orcpt` per recipient address ("rfc822;original@example.com").
   */
  dsn?: { notify?: string[]; ret?: string; envid?: string; orcpt?: Record<string, string> };
}

export interface SendResult {
  messageId: string;
  /** The Message-ID header of the spooled message. */
  messageIdHeader: string;
  accepted: string[];
  rejected: { address: string; code: number; enhanced: string; reason: string }[];
}

/** The pipeline's steps a front end runs: the pure stages, the suppression screen, the enqueue. */
export interface IntakeSteps {
  /** The pure stages (tenant, sender, recipient, size, content). */
  readonly stages: IntakeStages;
  /** The suppression stage for recipients that passed `stages.recipient` (one HMGET). */
  screen(
    tenant: string,
    addresses: readonly string[],
    options?: StepOptions,
  ): Promise<ScreenedRecipients | Refusal>;
  /** The last stage: spools a checked message (its trace headers added by the front end). */
  enqueue(args: EnqueueArgs, options?: StepOptions): Promise<Refusal | undefined>;
  /**
   * A new message id, in the queue shard the next message goes to; with an Idempotency-Key's
   * scope, in the shard its record is claimed in (the record is written with the message).
   */
  newMessageId(idempotencyScope?: string): string;
}

export interface SendPipeline extends IntakeSteps {
  hostname: string;
}

/** Throws the refusal as send() reports it. */
function fail(refusal: Refusal): never {
  // A signing key that failed is a local fault with its own code, not "Redis unavailable".
  if (refusal.cause instanceof HeraldError) throw refusal.cause;
  throw new IntakeRefusedError(refusal);
}

const rejectedEntry = (address: string, refusal: Refusal) => ({
  address,
  code: refusal.code,
  enhanced: refusal.enhanced,
  reason: refusal.reason,
});

export async function sendMessage(pipeline: SendPipeline, message: SendInput): Promise<SendResult> {
  const { stages } = pipeline;
  const tenant = stages.tenant({ via: 'api', tenant: message.tenant });
  if (isRefusal(tenant)) fail(tenant);
  if (typeof message.from !== 'string')
    fail(refuse('badSender', { reason: `invalid sender address: ${typeof message.from}, not a string` }));
  // Recipients as written ("Ann <ann@example.com>" too); the envelope takes each one's address.
  const written = [
    ...recipientList(message.to),
    ...optionalList(message.cc, 'cc'),
    ...optionalList(message.bcc, 'bcc'),
  ];
  const recipients = written.map((value) => mailboxAddress(value) ?? value);
  const from = message.from === '<>' ? '' : mailboxAddress(message.from);
  if (from === undefined)
    fail(refuse('badSender', { reason: 'invalid sender address: not one mailbox ("a@b" or "Name <a@b>")' }));
  const senderRefusal = stages.sender(tenant, from);
  if (senderRefusal) fail(senderRefusal);
  const dsn = sendDsn(message.dsn, recipients);
  const stream = sendName(message, 'stream');
  const campaign = sendName(message, 'campaign');
  const accepted: string[] = [];
  const rejected: SendResult['rejected'] = [];
  // Each mailbox once, as the relay's SMTP server keeps RCPT TO: one delivery, one terminal event.
  for (const address of uniqueAddresses(recipients)) {
    const refusal = stages.recipient(address, accepted.length);
    if (refusal) rejected.push(rejectedEntry(address, refusal));
    else accepted.push(address);
  }
  const screened = await pipeline.screen(tenant, accepted);
  if (isRefusal(screened)) fail(screened);
  for (const { address, refusal } of screened.refused) rejected.push(rejectedEntry(address, refusal));
  const refused = new Set(screened.refused.map((r) => r.address));
  const kept = accepted.filter((a) => !refused.has(a));
  const id = pipeline.newMessageId(message.idempotency?.scope);
  if (kept.length === 0) return { messageId: id, messageIdHeader: '', accepted: kept, rejected };
  const raw =
    message.raw !== undefined
      ? Buffer.isBuffer(message.raw)
        ? message.raw
        : Buffer.from(message.raw, 'utf8')
      : await composeMessage({ ...message, from: message.from, to: message.to });
  const tooBig = stages.size(raw.length);
  if (tooBig) fail(tooBig);
  const content = stages.content(tenant, from, raw);
  if (isRefusal(content)) fail(content);
  const prepared = prepareMessage(
    content.body,
    { helo: 'api', clientAddress: '127.0.0.1', by: pipeline.hostname, protocol: 'HTTP', id },
    new Date(),
  );
  const result: SendResult = {
    messageId: id,
    messageIdHeader: prepared.messageIdHeader,
    accepted: kept,
    rejected,
  };
  const idempotency = message.idempotency && {
    scope: message.idempotency.scope,
    ttlMs: message.idempotency.ttlMs,
    value: message.idempotency.answer(result),
  };
  const refusal = await pipeline.enqueue({
    id,
    from,
    recipients: screened.deliver,
    dropped: screened.dropped,
    body: prepared.body,
    tenant,
    source: 'api',
    stream: stream ?? content.stream,
    campaign: campaign ?? content.campaign,
    ...(idempotency ? { idempotency } : {}),
    ...(dsn ? { dsn } : {}),
  });
  if (refusal) fail(refusal);
  return result;
}

/** `cc` / `bcc` as a list (absent: none); HERALD_SEND_NO_RECIPIENT when not addresses (strings). */
function optionalList(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (!list.every((address) => typeof address === 'string'))
    throw new HeraldError(
      'HERALD_SEND_NO_RECIPIENT',
      `send(): ${name} must be an address or a list of addresses`,
    );
  return list as string[];
}

/** `input.to` as a list; HERALD_SEND_NO_RECIPIENT when it is empty or not addresses (strings). */
function recipientList(to: unknown): string[] {
  const list: unknown[] = Array.isArray(to) ? to : [to];
  if (list.length === 0 || !list.every((address) => typeof address === 'string'))
    throw new HeraldError(
      'HERALD_SEND_NO_RECIPIENT',
      list.length === 0
        ? 'send(): to names no recipient'
        : 'send(): to must be an address or a list of addresses',
    );
  return list as string[];
}

/** `input.stream` / `input.campaign` lower-cased; a `badInstruction` refusal when it is not a valid name. */
function sendName(input: SendInput, key: 'stream' | 'campaign'): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  const name = trafficName(value);
  if (name === undefined)
    fail(refuse('badInstruction', { text: `invalid ${key} ${JSON.stringify(value)}: ${TRAFFIC_NAME_HINT}` }));
  return name;
}

/** `input.dsn` checked and keyed by recipient; a `badInstruction` refusal when a value is wrong. */
function sendDsn(input: SendInput['dsn'], recipients: readonly string[]): MessageDsn | undefined {
  if (input === undefined) return undefined;
  const bad = (text: string): never => fail(refuse('badInstruction', { text: `invalid dsn: ${text}` }));
  const dsn: MessageDsn = {};
  const perRecipient: NonNullable<MessageDsn['recipients']> = {};
  if (input.ret !== undefined) {
    const ret = parseRet(input.ret);
    dsn.ret = ret === 'FULL' || ret === 'HDRS' ? ret : bad(ret);
  }
  if (input.envid !== undefined) {
    const problem = envidProblem(input.envid);
    if (problem) bad(problem);
    dsn.envid = input.envid;
  }
  const notify = input.notify === undefined ? undefined : parseNotify(input.notify);
  if (typeof notify === 'string') bad(notify);
  const orcpts = new Map(Object.entries(input.orcpt ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  for (const address of recipients) {
    const key = address.toLowerCase();
    const given = orcpts.get(key);
    const orcpt = given === undefined ? undefined : parseOrcpt(given);
    if (orcpt && 'problem' in orcpt) bad(orcpt.problem);
    if (!notify && !orcpt) continue;
    perRecipient[key] = {
      ...(notify ? { notify: notify as Exclude<typeof notify, string> } : {}),
      ...(orcpt && 'orcpt' in orcpt ? { orcpt: orcpt.orcpt } : {}),
    };
  }
  if (Object.keys(perRecipient).length > 0) dsn.recipients = perRecipient;
  return dsn;
}
