/**
 * createTlsReporting: SMTP TLS Reporting wired from the config (`tls_reporting`), or undefined
 * when it is off. Counts every attempt event of this process (a listener on Herald's event sink,
 * counter.ts), sends a day's reports on demand (`sendDay`: `herald tlsrpt send`) and runs the
 * daily job (`startDaily`): every CHECK_INTERVAL_MS a relay past `send_at` (UTC) whose run has not
 * finished the day before takes the lease (SET NX PX RUN_LEASE_MS, never released: it also spaces
 * retries) and sends that day's reports; markers (send-day.ts) keep each report to one sending,
 * and a run that left failures is tried again once the lease lapses. `stop` ends the job (a run in
 * flight finishes) and the listener.
 * Needs: the config, the command connection, Herald's resolver and event sink, its send().
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { trustedCas } from '../auth/index.js';
import type { HeraldConfig } from '../config/index.js';
import type { Resolver } from '../dns/index.js';
import { HeraldError } from '../errors/index.js';
import type { HeraldEvent } from '../events/index.js';
import { tlsRptLeaseKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { TlsReportCounter } from './counter.js';
import { type DomainReport, previousDay, sendTlsReports, type TlsReportDeps } from './send-day.js';

/** How often a relay looks whether the day's reports are due. */
export const CHECK_INTERVAL_MS = 10 * 60_000;
/** The daily job's lease: one run at a time, and a run with failures is retried after it lapses. */
export const RUN_LEASE_MS = 60 * 60_000;
const MS_PER_DAY = 86_400_000;

export interface TlsReportingParts {
  config: HeraldConfig;
  redis: RedisClient;
  resolver: Resolver;
  events: { on(listener: (event: HeraldEvent) => void): () => void };
  /** Count this process's attempt events (false where they are counted elsewhere: delivery threads). */
  count: boolean;
  sendMail: TlsReportDeps['sendMail'];
  logger: Logger;
  now?: () => number;
}

export interface TlsReporting {
  /** Sends (dryRun: builds) the reports of `day` (YYYY-MM-DD; default the UTC day before today). */
  sendDay(options?: { day?: string; dryRun?: boolean }): Promise<DomainReport[]>;
  /** Runs the daily job in this process (a relay with the worker role). */
  startDaily(): void;
  stop(): Promise<void>;
}

function readCa(file: string | undefined): readonly string[] | undefined {
  if (!file) return undefined;
  try {
    return trustedCas(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new HeraldError(
      'HERALD_CONFIG_UNREADABLE',
      `tls_reporting.ca_file: cannot read ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function createTlsReporting(parts: TlsReportingParts): TlsReporting | undefined {
  const section = parts.config.tls_reporting;
  if (!section.enabled) return undefined;
  const now = parts.now ?? Date.now;
  const prefix = parts.config.redis.prefix;
  const counter = new TlsReportCounter(parts.redis, prefix, parts.logger);
  const unsubscribe = parts.count ? parts.events.on(counter.observe) : () => {};
  const deps: TlsReportDeps = {
    redis: parts.redis,
    prefix,
    resolver: parts.resolver,
    settings: {
      organization: section.organization_name!,
      contact: section.contact_info!,
      from: section.from!,
      tenant: section.tenant,
      httpTimeoutMs: section.http_timeout,
      ca: readCa(section.ca_file),
    },
    sendMail: parts.sendMail,
    now,
    logger: parts.logger,
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let finishedDay: string | undefined;

  const tick = async (): Promise<void> => {
    const at = now();
    if (at % MS_PER_DAY < section.send_at) return;
    const day = previousDay(at);
    if (finishedDay === day) return;
    const lease = await parts.redis.set(tlsRptLeaseKey(prefix), randomUUID(), 'PX', RUN_LEASE_MS, 'NX');
    if (lease !== 'OK') return;
    const results = await sendTlsReports(deps, { day });
    const failed = results.filter((r) => r.status === 'failed').map((r) => r.domain);
    if (failed.length === 0) finishedDay = day;
    parts.logger.info({ day, reports: results.length, failed }, 'TLS reports sent');
  };
  const runTick = () => {
    running ??= tick()
      .catch((err: unknown) => parts.logger.warn({ err }, 'TLS report run failed'))
      .finally(() => {
        running = undefined;
      });
  };

  return {
    sendDay: (options = {}) =>
      sendTlsReports(deps, { day: options.day ?? previousDay(now()), dryRun: options.dryRun ?? false }),
    startDaily() {
      if (timer) return;
      timer = setInterval(runTick, CHECK_INTERVAL_MS);
      timer.unref();
      runTick();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      unsubscribe();
      await running;
    },
  };
}
