/**
 * Sending one UTC day's TLS reports (RFC 8460 §5): for each policy domain counted that day, claim
 * its "sent" marker (SET NX, so a report goes out once per domain and day, whichever relay or CLI
 * runs), look up `_smtp._tls.<domain>` TXT through Herald's resolver, build and gzip the report
 * and deliver it to its rua URIs — the first MAX_RUA_PER_DOMAIN, the rest logged and ignored —
 * all at once, each within `httpTimeoutMs` (so a domain takes at most that long whatever its
 * record names): `https:` by POST (post.ts), `mailto:` through Herald's own send() (mail.ts).
 * The record is the domain's to write, so it must not buy it more of our time or requests. The marker is kept when at least one rua took the report, or when the domain
 * publishes no usable record (nothing to send); it is dropped when every delivery (or the DNS
 * lookup) failed, so the next run tries again while the counters last. A dry run claims nothing
 * and delivers nothing: it returns what would be sent.
 */
import type { Logger } from 'pino';
import type { Resolver } from '../dns/index.js';
import { tlsRptDayKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { countedDomains, readDay } from './counter.js';
import { reportMessage } from './mail.js';
import { postReport } from './post.js';
import { buildTlsReport, gzipReport, parseTlsRptRecord } from './report.js';

/** How long a marker says "sent" (past the counters' own life). */
export const SENT_MARKER_TTL_MS = 4 * 86_400_000;
/** A claim of a report being sent lapses after this if its sender died mid-way. */
export const SENDING_CLAIM_TTL_MS = 3_600_000;
/** The most rua URIs one domain's report is delivered to (the rest are logged and ignored). */
export const MAX_RUA_PER_DOMAIN = 5;
const MS_PER_DAY = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export interface TlsReportSettings {
  organization: string;
  contact: string;
  /** Envelope and From: of mailed reports; its domain is the submitter. */
  from: string;
  tenant: string;
  httpTimeoutMs: number;
  /** Trusted CAs for https: rua (Node's roots plus tls_reporting.ca_file), absent = Node's roots. */
  ca?: readonly string[] | undefined;
}

export interface TlsReportDeps {
  redis: RedisClient;
  prefix: string;
  resolver: Resolver;
  settings: TlsReportSettings;
  /** Herald's own send(): the report as a message, queued and delivered like any other. */
  sendMail(input: { from: string; to: string; raw: Buffer; tenant: string }): Promise<void>;
  now(): number;
  logger: Logger;
}

export type DomainReportStatus = 'sent' | 'failed' | 'already-sent' | 'no-record' | 'dry-run';

export interface DomainReport {
  domain: string;
  status: DomainReportStatus;
  reportId: string;
  rua: string[];
  /** rua URIs past MAX_RUA_PER_DOMAIN, not delivered to. */
  ignored?: string[];
  /** Per rua: delivered, or why not. */
  deliveries: { uri: string; ok: boolean; error?: string }[];
  /** Why there is nothing to send (no-record) or nothing was tried (a DNS failure). */
  problem?: string;
  /** The report JSON (dry run). */
  report?: Record<string, unknown>;
}

/** Midnight (UTC) of `day` (YYYY-MM-DD), ms; throws on anything else. */
export function dayStartOf(day: string): number {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (!DAY.test(day) || Number.isNaN(ms)) throw new Error(`not a day (YYYY-MM-DD): ${day}`);
  return ms;
}

/** The UTC day before the one `now` is in. */
export const previousDay = (now: number): string =>
  new Date(Math.floor(now / MS_PER_DAY) * MS_PER_DAY - MS_PER_DAY).toISOString().slice(0, 10);

const submitterOf = (from: string) => from.slice(from.lastIndexOf('@') + 1).toLowerCase();

/** Sends (or with dryRun, builds) every report of `day`. */
export async function sendTlsReports(
  deps: TlsReportDeps,
  options: { day: string; dryRun?: boolean },
): Promise<DomainReport[]> {
  dayStartOf(options.day);
  const results: DomainReport[] = [];
  for (const domain of await countedDomains(deps.redis, deps.prefix, options.day))
    results.push(await sendDomain(deps, options.day, domain, options.dryRun ?? false));
  return results;
}

async function sendDomain(
  deps: TlsReportDeps,
  day: string,
  domain: string,
  dryRun: boolean,
): Promise<DomainReport> {
  const { settings } = deps;
  const submitter = submitterOf(settings.from);
  const reportId = `${day}_${domain}@${submitter}`;
  const base = { domain, reportId, rua: [] as string[], deliveries: [] };
  const marker = tlsRptDayKeys(deps.prefix, day).sent(domain);
  if (!dryRun && (await deps.redis.set(marker, 'sending', 'PX', SENDING_CLAIM_TTL_MS, 'NX')) !== 'OK')
    return { ...base, status: 'already-sent' };
  const finish = async (report: DomainReport): Promise<DomainReport> => {
    if (dryRun) return report;
    if (report.status === 'failed') await deps.redis.del(marker);
    else await deps.redis.set(marker, report.status, 'PX', SENT_MARKER_TTL_MS);
    return report;
  };
  let texts: string[];
  try {
    const answer = await deps.resolver.query(`_smtp._tls.${domain}`, 'TXT');
    texts = answer.answers.flatMap((r) => (r.type === 'TXT' ? [r.text] : []));
  } catch (err) {
    return finish({
      ...base,
      status: 'failed',
      problem: `_smtp._tls.${domain} TXT: ${(err as Error).message}`,
    });
  }
  const record = parseTlsRptRecord(texts);
  if (!record.ok) return finish({ ...base, status: 'no-record', problem: record.problem });
  const dayStart = dayStartOf(day);
  const report = buildTlsReport({
    organization: settings.organization,
    contact: settings.contact,
    reportId,
    dayStart,
    domain,
    tallies: await readDay(deps.redis, deps.prefix, day, domain),
  });
  if (dryRun) return { ...base, rua: record.rua, status: 'dry-run', report };
  const gzip = gzipReport(report);
  const rua = record.rua.slice(0, MAX_RUA_PER_DOMAIN);
  const ignored = record.rua.slice(MAX_RUA_PER_DOMAIN);
  if (ignored.length > 0)
    deps.logger.warn(
      { domain, ignored, max: MAX_RUA_PER_DOMAIN },
      'TLS report: the record names more rua URIs than allowed; the rest are ignored',
    );
  const deliver = async (uri: string): Promise<void> => {
    if (/^https:/i.test(uri)) {
      await postReport(uri, gzip, {
        resolver: deps.resolver,
        ca: settings.ca,
        timeoutMs: settings.httpTimeoutMs,
      });
      return;
    }
    const to = decodeURIComponent(uri.slice('mailto:'.length).split('?')[0]!);
    const raw = reportMessage({
      ...{ from: settings.from, to, submitter, organization: settings.organization },
      ...{ domain, reportId, dayStart, gzip, now: deps.now() },
    });
    await deps.sendMail({ from: settings.from, to, raw, tenant: settings.tenant });
  };
  const deliveries = await Promise.all(
    rua.map(async (uri): Promise<DomainReport['deliveries'][number]> => {
      try {
        await withinMs(
          deliver(uri),
          settings.httpTimeoutMs,
          `${uri}: not delivered within ${settings.httpTimeoutMs} ms`,
        );
        return { uri, ok: true };
      } catch (err) {
        deps.logger.warn({ err, domain, uri }, 'TLS report delivery failed');
        return { uri, ok: false, error: (err as Error).message };
      }
    }),
  );
  const status = deliveries.some((d) => d.ok) ? 'sent' : 'failed';
  return finish({ ...base, rua, ...(ignored.length > 0 ? { ignored } : {}), deliveries, status });
}

/**
 * `work`, or a rejection after `ms` (the work itself is left to end by its own timers: a POST's
 * per-address timeout, send()'s queueing).
 */
function withinMs<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  work.catch(() => {}); // a late failure after the deadline is not unhandled
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
