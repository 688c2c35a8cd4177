/**
 * The small pieces createHerald wires together: connecting to Redis with a bound, the shaping
 * file in force, static routes in the form delivery uses, and the follow-up of failed recipients
 * (DSNs to senders, suppression of hard bounces), and intake's spooling with the suppression list.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createDkimSigner, type DkimKeyStore, type DkimSigner, loadDkimKeys } from './auth/index.js';
import { MtaStsPolicies } from './auth/mta-sts.js';
import { type HeraldConfig, maskUrl, parseHostPort, type Route, tenantPolicy } from './config/index.js';
import { type FollowUpDeps, followUpFailures } from './delivery/follow-up.js';
import type { DeliveryDeps, DeliveryWorkerOptions, StaticRoute } from './delivery/index.js';
import type { Resolver } from './dns/index.js';
import { HeraldError } from './errors/index.js';
import type { AcceptedEvent, RedisEventSink } from './events/index.js';
import type { SendResult } from './herald-send.js';
import { newMessageId } from './queue/ids.js';
import { groupByDomain, type Spool, storedStream } from './queue/index.js';
import { dmarcProblem, domainOfAddress, fromHeaderDomain, senderDomainAllowed } from './sender/index.js';
import { loadProviderDefaults, loadShapingFile, parseShaping, type Shaping } from './shaping/index.js';
import {
  type SuppressedRecipient,
  type SuppressionList,
  screenRecipients,
  suppressedEvent,
  suppressionReply,
} from './suppression/index.js';
import { encodeVerp, verpSettings } from './verp/index.js';

/** How long createHerald waits for Redis before failing. */
const REDIS_CONNECT_TIMEOUT_MS = 10_000;

/** Default port of a route's `via` when it names none. */
const ROUTE_PORT = 25;

export function toStaticRoute(route: Route | undefined): StaticRoute | undefined {
  if (!route) return undefined;
  return { match: route.match, via: parseHostPort(route.via, ROUTE_PORT), tls: route.tls, auth: route.auth };
}

export async function connectOrFail(redis: Redis, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), REDIS_CONNECT_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    throw new HeraldError(
      'HERALD_REDIS_UNAVAILABLE',
      // Never the password: a URL with credentials is shown masked.
      `cannot connect to Redis at ${maskUrl(url)}: ${maskUrl((err as Error).message)}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** The shaping file of `shaping.file` (over the shipped provider defaults unless turned off). */
export function loadShaping(config: HeraldConfig): Shaping {
  const { file, provider_defaults: providerDefaults } = config.shaping;
  if (file) return loadShapingFile(file, { providerDefaults });
  return providerDefaults ? loadProviderDefaults() : parseShaping({});
}

/**
 * The DKIM key store and signer of `config.dkim`, keys read now (a missing or bad key fails the
 * start with its path); undefined without keys, so unsigned setups pay nothing per message.
 */
export function dkimFor(
  config: HeraldConfig,
  logger: Logger,
): { store: DkimKeyStore; signer: DkimSigner } | undefined {
  if (config.dkim.length === 0) return undefined;
  const store = loadDkimKeys(config.dkim, { warn: (message) => logger.warn(message) });
  return { store, signer: createDkimSigner(store) };
}

/**
 * Why DMARC would fail for this message on Herald's path (see sender/dmarc.ts), or undefined:
 * the signing keys the store picks for it and the return path it will be sent with.
 */
export function dmarcProblemFor(
  config: HeraldConfig,
  store: DkimKeyStore | undefined,
  message: { tenant: string; from: string; body: Buffer },
): string | undefined {
  const fromDomain = fromHeaderDomain(message.body);
  const keys = store ? store.select({ fromDomain, tenant: message.tenant, now: Date.now() }) : [];
  const returnPathDomain =
    message.from === '' ? undefined : config.bounce ? config.bounce.domain : domainOfAddress(message.from);
  return dmarcProblem({ fromDomain, returnPathDomain, dkimDomains: keys.map((k) => k.domain) });
}

/** The worker's `afterFailures`: DSNs through `enqueueDsn`, hard bounces to `suppress`. */
export function failureFollowUp(
  config: HeraldConfig,
  parts: Pick<FollowUpDeps, 'getBody' | 'enqueueDsn' | 'suppress' | 'countHardBounces'>,
): NonNullable<DeliveryWorkerOptions['afterFailures']> {
  const deps: FollowUpDeps = {
    ...parts,
    hostname: config.smtp.hostname,
    wantsDsn: (tenant) => tenantPolicy(config, tenant).dsn,
    newId: () => newMessageId(),
    now: Date.now,
  };
  return (data, failures) => followUpFailures(data, failures, deps);
}

/** A prepared message for `enqueuePrepared` (the relay's DATA, `send()`, DSNs). */
export interface EnqueuePreparedArgs {
  id: string;
  from: string;
  /** Recipients to deliver (one job per domain). */
  recipients: string[];
  body: Buffer;
  tenant: string;
  source: 'smtp' | 'api' | 'dsn';
  client?: string;
  /** Traffic stream and campaign, already valid names (see message/trafficName). */
  stream?: string | undefined;
  campaign?: string | undefined;
  /** Accepted but dropped by the suppression list (mode drop): no job, a suppressed event each. */
  dropped?: readonly SuppressedRecipient[] | undefined;
}

/**
 * Spools a prepared message with its accepted event in the same transaction, then announces it.
 * Dropped recipients are in the accepted event and get their terminal `suppressed` event instead
 * of a job; when every recipient is dropped nothing is spooled, only those events are written.
 */
export async function spoolPrepared(
  spool: Spool,
  events: RedisEventSink,
  args: EnqueuePreparedArgs,
): Promise<void> {
  const acceptedAt = Date.now();
  const stream = storedStream(args.stream);
  const traffic = {
    ...(stream ? { stream } : {}),
    ...(args.campaign ? { campaign: args.campaign } : {}),
  };
  const dropped = args.dropped ?? [];
  const event: AcceptedEvent = {
    type: 'accepted',
    time: acceptedAt,
    messageId: args.id,
    tenant: args.tenant,
    from: args.from,
    recipients: dropped.length ? [...args.recipients, ...dropped.map((d) => d.address)] : args.recipients,
    size: args.body.length,
    jobs: groupByDomain(args.recipients).size,
    source: args.source,
    ...(args.client ? { client: args.client } : {}),
    ...traffic,
  };
  if (args.recipients.length > 0) {
    // The accepted record is written in the same transaction as the message: no accepted
    // message without its event, even if the process dies right after the 250.
    await spool.enqueue({
      id: args.id,
      tenant: args.tenant,
      from: args.from,
      recipients: args.recipients,
      body: args.body,
      acceptedAt,
      ...traffic,
      acceptedEvent: JSON.stringify(event),
    });
    events.announce(event);
  } else events.emit(event);
  for (const recipient of dropped)
    events.emit(
      suppressedEvent({ messageId: args.id, tenant: args.tenant, time: acceptedAt, recipient, ...traffic }),
    );
}

/**
 * `send()`'s suppression step, one HMGET: in the tenant's mode `refuse` a suppressed recipient
 * moves to `rejected` (550 5.7.1 with the reason); in mode `drop` it stays accepted, is not
 * delivered, and gets a suppressed event.
 */
export async function screenForSend(
  list: SuppressionList,
  config: HeraldConfig,
  tenant: string,
  accepted: readonly string[],
  rejected: SendResult['rejected'],
): Promise<{ accepted: string[]; deliver: string[]; dropped: SuppressedRecipient[] }> {
  const screened = await screenRecipients(list, tenant, accepted, tenantPolicy(config, tenant).suppression);
  for (const { address, entry } of screened.refused) {
    const reply = suppressionReply(address, entry);
    rejected.push({ address, code: reply.code, enhanced: reply.enhanced, reason: reply.text });
  }
  const refused = new Set(screened.refused.map((r) => r.address));
  return {
    accepted: accepted.filter((a) => !refused.has(a)),
    deliver: screened.deliver,
    dropped: screened.dropped,
  };
}

/**
 * Delivery's `tlsPolicy` when delivery.mta_sts is enabled: receiving domains' MTA-STS policies
 * (RFC 8461), cached per Herald; `ca_file` adds trusted CAs (read now: an unreadable file fails).
 */
export function tlsPolicyFor(config: HeraldConfig, resolver: Resolver): Pick<DeliveryDeps, 'tlsPolicy'> {
  const sts = config.delivery.mta_sts;
  if (!sts.enabled) return {};
  let extraCa: string | undefined;
  try {
    extraCa = sts.ca_file ? readFileSync(sts.ca_file, 'utf8') : undefined;
  } catch (err) {
    throw new HeraldError(
      'HERALD_CONFIG_UNREADABLE',
      `delivery.mta_sts.ca_file: cannot read ${sts.ca_file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const policies = new MtaStsPolicies({
    resolver,
    cacheSize: sts.cache_size,
    extraCa,
    policyPort: sts.policy_port,
  });
  return { tlsPolicy: (domain, hosts) => policies.decide(domain, hosts) };
}

/** Delivery's `returnPath` when the config has a `bounce` section (VERP per recipient), else nothing. */
export function returnPathFor(config: HeraldConfig): Pick<DeliveryDeps, 'returnPath'> {
  const verp = verpSettings(config);
  if (!verp) return {};
  return {
    returnPath: (data, recipient) =>
      encodeVerp(
        { tenant: data.tenant, messageId: data.messageId, recipient, now: Date.now() },
        verp.keys,
        verp.domain,
      ),
  };
}

/** send(): the tenant's `sender_domains` hold for the envelope sender and the From header. */
export function checkSenderDomains(config: HeraldConfig, tenant: string, from: string, body: Buffer): void {
  const allowed = tenantPolicy(config, tenant).sender_domains;
  if (allowed.length === 0) return;
  if (from !== '' && !senderDomainAllowed(allowed, domainOfAddress(from)))
    throw new HeraldError(
      'HERALD_SEND_DOMAIN_NOT_ALLOWED',
      `sender ${from}: domain not allowed for tenant ${tenant}`,
    );
  const fromDomain = fromHeaderDomain(body);
  if (!senderDomainAllowed(allowed, fromDomain))
    throw new HeraldError(
      'HERALD_SEND_DOMAIN_NOT_ALLOWED',
      `From domain ${fromDomain ?? '(none)'}: not allowed for tenant ${tenant}`,
    );
}
