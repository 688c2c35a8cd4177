/**
 * Sending one day's TLS reports against a real redis-server, with a fake resolver: a domain's
 * `_smtp._tls` record is the domain's to write, so it cannot make Herald send more than
 * MAX_RUA_PER_DOMAIN copies (the rest are reported as ignored), and a rua that never answers
 * costs the domain at most `httpTimeoutMs` — the others, tried at the same time, still get it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import pino from 'pino';
import type { DnsAnswer, Resolver } from '../src/dns/index.js';
import { MAX_RUA_PER_DOMAIN, sendTlsReports, TlsReportCounter, utcDay } from '../src/tlsrpt/index.js';

const DOMAIN = 'victim.test';
const HANGING = 'hang@reports.test';
const TIMEOUT_MS = 300;

function resolverWith(txt: Record<string, string[]>): Resolver {
  return {
    query: async (name): Promise<DnsAnswer> => {
      const records = txt[name];
      if (!records) return { rcode: 'NXDOMAIN', answers: [], ttlMs: 60_000 };
      return { rcode: 'NOERROR', answers: records.map((text) => ({ type: 'TXT', text })), ttlMs: 60_000 };
    },
    resolveMx: () => Promise.reject(new Error('not used')),
    resolveMxSet: () => Promise.reject(new Error('not used')),
    resolveAddresses: () => Promise.reject(new Error('not used')),
    stats: () => ({ queries: 0, cacheHits: 0, inflightJoins: 0 }),
    close: async () => {},
  };
}

describe('TLS reports: rua count and time bounded per domain', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('delivers to the first MAX_RUA_PER_DOMAIN rua at once; a hanging one fails after the timeout', async () => {
    const now = Date.now();
    const day = utcDay(now);
    const logger = pino({ level: 'silent' });
    const client = redis.client();
    await new TlsReportCounter(client, 'tr1', logger).record(DOMAIN, now, {
      policyType: 'no-policy-found',
      success: true,
    });
    const mailboxes = [HANGING, ...Array.from({ length: 9 }, (_, i) => `r${i}@reports.test`)];
    const record = `v=TLSRPTv1; rua=${mailboxes.map((m) => `mailto:${m}`).join(',')}`;
    const mailed: string[] = [];
    let hangingStarted = false;
    const [result] = await sendTlsReports(
      {
        redis: client,
        prefix: 'tr1',
        resolver: resolverWith({ [`_smtp._tls.${DOMAIN}`]: [record] }),
        settings: {
          organization: 'Herald test',
          contact: 'ops@herald.test',
          from: 'tlsrpt@herald.test',
          tenant: 'default',
          httpTimeoutMs: TIMEOUT_MS,
        },
        sendMail: async ({ to }) => {
          if (to === HANGING) {
            hangingStarted = true;
            return new Promise<void>(() => {}); // never answers
          }
          // The hanging delivery began before this one finished: they run at once.
          assert.ok(hangingStarted, 'the rua are tried concurrently');
          mailed.push(to);
        },
        now: () => now,
        logger,
      },
      { day },
    );
    assert.equal(MAX_RUA_PER_DOMAIN, 5);
    assert.equal(result?.status, 'sent');
    assert.deepEqual(
      result?.rua,
      mailboxes.slice(0, 5).map((m) => `mailto:${m}`),
    );
    assert.deepEqual(
      result?.ignored,
      mailboxes.slice(5).map((m) => `mailto:${m}`),
    );
    assert.deepEqual(mailed, mailboxes.slice(1, 5), 'nothing past the cap is sent');
    const hung = result?.deliveries.find((d) => d.uri === `mailto:${HANGING}`);
    assert.equal(hung?.ok, false);
    assert.match(hung?.error ?? '', new RegExp(`not delivered within ${TIMEOUT_MS} ms`));
    assert.equal(result?.deliveries.filter((d) => d.ok).length, 4);
  });
});
