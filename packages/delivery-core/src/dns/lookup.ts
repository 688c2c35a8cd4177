/**
 * The lookup engine: cache, single-flight, retries with server rotation, and CNAME chasing.
 *
 * Owns: the answer cache and the in-flight table. Guarantees: a cached answer is served until its
 * TTL runs out on the injected clock; concurrent identical lookups (same name and type) share one
 * network lookup; a network lookup makes up to `attempts` attempts, attempt n going to server
 * (n-1) mod servers (p-retry, no backoff: the timeout already waited); NOERROR and NXDOMAIN are
 * answers (cached, negative ones too), while timeouts, network errors, SERVFAIL, REFUSED and
 * other rcodes are retried and finally raise TransientError 451 4.4.3. Needs: servers, timing
 * and TTL policy, and a cache (with its clock) from createResolver.
 */
import { setMaxListeners } from 'node:events';
import pRetry from 'p-retry';
import { MAX_CNAME_HOPS, type ReadAnswer, readAnswer, type TtlPolicy } from './answer.js';
import type { TtlLruCache } from './cache.js';
import { dnsTransient, domainMissing } from './failures.js';
import { toQueryName } from './names.js';
import { formatServer } from './servers.js';
import { DnsAttemptError, exchange } from './transport.js';
import type { DnsAnswer, NameServer, RecordType, ResolverStats } from './types.js';

/** Delay between attempts: none, since a timed-out attempt has already waited `timeoutMs`. */
export const DNS_RETRY_DELAY_MS = 0;

export interface LookupConfig {
  servers: NameServer[];
  timeoutMs: number;
  attempts: number;
  policy: TtlPolicy;
  cache: TtlLruCache<DnsAnswer>;
}

function copy(answer: DnsAnswer, ttlMs = answer.ttlMs): DnsAnswer {
  const out: DnsAnswer = { rcode: answer.rcode, answers: answer.answers.map((r) => ({ ...r })), ttlMs };
  if (answer.authenticated) out.authenticated = true;
  return out;
}

export class DnsLookup {
  private readonly config: LookupConfig;
  private readonly inflight = new Map<string, Promise<DnsAnswer>>();
  private readonly controller = new AbortController();
  private readonly counters: ResolverStats = { queries: 0, cacheHits: 0, inflightJoins: 0 };
  private closed = false;

  constructor(config: LookupConfig) {
    if (config.servers.length === 0) throw new Error('DnsLookup needs at least one nameserver');
    this.config = config;
    // Every exchange in flight listens on this one signal (close() aborts them all); hundreds of
    // concurrent lookups are normal under load, so no MaxListenersExceededWarning.
    setMaxListeners(0, this.controller.signal);
  }

  /** Answers (name, type); throws PermanentError 5.1.2 for an invalid name, TransientError 4.4.3 on failure. */
  async query(name: string, type: RecordType): Promise<DnsAnswer> {
    const qname = toQueryName(name);
    if (qname === undefined) throw domainMissing(name, 'is not a valid domain name');
    return copy(await this.lookup(qname, type, 0));
  }

  stats(): ResolverStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.controller.abort();
    await Promise.allSettled([...this.inflight.values()]);
    this.config.cache.clear();
  }

  private lookup(qname: string, type: RecordType, depth: number): Promise<DnsAnswer> {
    if (this.closed)
      return Promise.reject(dnsTransient(`DNS lookup of ${qname} ${type} refused: resolver closed`));
    const key = `${qname}|${type}`;
    const cached = this.config.cache.get(key);
    if (cached) {
      this.counters.cacheHits++;
      return Promise.resolve(copy(cached.value, cached.remainingMs));
    }
    const running = this.inflight.get(key);
    if (running) {
      this.counters.inflightJoins++;
      return running;
    }
    this.counters.queries++;
    const promise = this.fetch(qname, type, depth).finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  private async fetch(qname: string, type: RecordType, depth: number): Promise<DnsAnswer> {
    const read = await this.withRetries(qname, type);
    let answer: DnsAnswer = { rcode: read.rcode, answers: read.answers, ttlMs: read.ttlMs };
    if (read.authenticated) answer.authenticated = true;
    if (read.chaseTarget !== undefined && depth < MAX_CNAME_HOPS) {
      const target = await this.lookup(read.chaseTarget, type, depth + 1);
      answer = { rcode: target.rcode, answers: target.answers, ttlMs: Math.min(read.ttlMs, target.ttlMs) };
      // A chain is validated only when every link is.
      if (read.authenticated && target.authenticated) answer.authenticated = true;
    }
    this.config.cache.set(`${qname}|${type}`, answer, answer.ttlMs);
    return answer;
  }

  private async withRetries(qname: string, type: RecordType): Promise<ReadAnswer> {
    const { servers, timeoutMs, attempts, policy } = this.config;
    const signal = this.controller.signal;
    try {
      return await pRetry(
        async (attemptNumber) => {
          const server = servers[(attemptNumber - 1) % servers.length]!;
          const response = await exchange({ server, name: qname, type, timeoutMs, signal });
          const read = readAnswer(response, qname, type, policy);
          if (read.rcode !== 'NOERROR' && read.rcode !== 'NXDOMAIN') {
            throw new DnsAttemptError('rcode', `${formatServer(server)} answered ${read.rcode}`);
          }
          return read;
        },
        {
          retries: Math.max(0, attempts - 1),
          minTimeout: DNS_RETRY_DELAY_MS,
          factor: 1,
          shouldRetry: ({ error }) =>
            !signal.aborted && !(error instanceof DnsAttemptError && error.reason === 'aborted'),
        },
      );
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw dnsTransient(`DNS lookup of ${qname} ${type} failed: ${why}`, err);
    }
  }
}
