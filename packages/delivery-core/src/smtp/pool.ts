/**
 * Outbound connection pool per (shaping site, source address, remote address, port, TLS mode,
 * certificate check — the host name verified, the trust set, a DANE check's records —, auth user):
 * two sites whose MX hosts share an address never ride each other's connections (each holds its
 * own site lease, message-per-connection count and limits). Consecutive messages to the same host
 * reuse an open session up to `maxMessagesPerConnection`; at most
 * `maxConnectionsPerHost` sessions per key exist at once (callers wait in FIFO order); an idle
 * session closes after `idleTimeoutMs`, or sooner when a new connection to its site needs the
 * site-wide slot it holds. Shaping across relays (issue: traffic shaping) builds on
 * top of this; this pool only bounds one process.
 */
import { LocalFaultError, ThrottledError } from '../errors/index.js';
import { SmtpSession } from './session.js';
import type { ConnectionLease, SessionTarget, SessionTimeouts } from './session-types.js';

/**
 * Site-wide connection slots shared by every relay (Redis leases). `acquire` gives a lease or
 * says when to come back; the pool holds one lease per open connection and releases it once the
 * connection is gone.
 */
export interface ConnectionLeases {
  /** A slot of `site`'s `limit` connections (and a cell of its connection `rate`), or when to retry. */
  acquire(
    site: string,
    limit: number,
    rate?: { count: number; periodMs: number },
  ): Promise<ConnectionLease | { retryAfterMs: number; reason?: 'connections' | 'connection-rate' }>;
}

export interface PoolOptions {
  leases?: ConnectionLeases;
  ehloName: string;
  timeouts: SessionTimeouts;
  maxConnectionsPerHost: number;
  maxMessagesPerConnection: number;
  idleTimeoutMs: number;
}

interface HostSlot {
  idle: { session: SmtpSession; timer: NodeJS.Timeout }[];
  open: number;
  /** The site of the sessions here (part of the key). */
  site?: string | undefined;
  waiters: (() => void)[];
}

/** The site name of connections opened without one (no shaping gate). */
const UNSITED = 'unrouted';

export class SmtpPool {
  private readonly hosts = new Map<string, HostSlot>();
  private closed = false;
  /** Sessions saying QUIT whose slot is not free yet. */
  private readonly closing = new Set<Promise<void>>();
  readonly stats = { opened: 0, reused: 0 };

  constructor(private readonly options: PoolOptions) {}

  /** An open session to `target`; the caller must `release` it exactly once. Throws DeliveryError. */
  async acquire(target: SessionTarget, options: { fresh?: boolean } = {}): Promise<SmtpSession> {
    const key = keyOf(target);
    const slot = this.slot(key);
    slot.site = target.site;
    for (;;) {
      if (this.closed)
        throw new LocalFaultError(
          { code: 421, enhanced: '4.3.2', text: 'delivery is shutting down', stage: 'connect' },
          'local',
        );
      const idle = options.fresh ? undefined : slot.idle.pop();
      if (idle) {
        clearTimeout(idle.timer);
        if (idle.session.usable) {
          this.stats.reused++;
          return idle.session;
        }
        slot.open--;
        void idle.session.lease?.release();
        continue;
      }
      if (slot.open < (target.maxConnections ?? this.options.maxConnectionsPerHost)) break;
      await new Promise<void>((resolve) => slot.waiters.push(resolve));
    }
    slot.open++;
    let lease: ConnectionLease | undefined;
    try {
      lease = await this.siteLease(target);
      const session = await SmtpSession.open(
        target,
        target.ehloName ?? this.options.ehloName,
        target.timeouts ?? this.options.timeouts,
      );
      this.stats.opened++;
      session.lease = lease;
      return session;
    } catch (err) {
      await lease?.release();
      slot.open--;
      this.wakeOne(slot);
      throw err;
    }
  }

  /** Connections open (in use, idle or closing) across every host: 0 when nothing is held. */
  get openConnections(): number {
    let open = 0;
    for (const slot of this.hosts.values()) open += slot.open;
    return open;
  }

  /** Connections open per site (`unrouted` for sessions without one), for metrics. */
  openBySite(): Map<string, number> {
    const bySite = new Map<string, number>();
    for (const slot of this.hosts.values()) {
      if (slot.open === 0) continue;
      const site = slot.site ?? UNSITED;
      bySite.set(site, (bySite.get(site) ?? 0) + slot.open);
    }
    return bySite;
  }

  /** The session has begun fewer transactions than its max_messages_per_connection: it may run another. */
  hasRoom(session: SmtpSession): boolean {
    return (
      session.messagesSent <
      (session.target.maxMessagesPerConnection ?? this.options.maxMessagesPerConnection)
    );
  }

  /**
   * Returns a session; `reusable` false closes it (after an error or a protocol doubt). Resolves
   * at once for a kept session, else once it is closed and its site lease released (a caller
   * about to open another connection to the same site awaits that, or the lease it still holds
   * would count against the site's limit).
   */
  release(session: SmtpSession, reusable: boolean): Promise<void> {
    const key = keyOf(session.target);
    const slot = this.slot(key);
    const keep = reusable && !this.closed && session.usable && this.hasRoom(session);
    if (keep) {
      const timer = setTimeout(() => this.expireIdle(key, session), this.options.idleTimeoutMs);
      timer.unref();
      slot.idle.push({ session, timer });
      this.wakeOne(slot);
      return Promise.resolve();
    }
    return this.closeCounted(slot, session);
  }

  /**
   * Closes every idle session and resolves once they and every session already closing are gone
   * (their leases released); sessions in use close when released.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.hosts.values()) {
      for (const { session, timer } of slot.idle.splice(0)) {
        clearTimeout(timer);
        this.closeCounted(slot, session);
      }
      for (const wake of slot.waiters.splice(0)) wake();
    }
    await Promise.all(this.closing);
  }

  private expireIdle(key: string, session: SmtpSession): void {
    const slot = this.hosts.get(key);
    if (!slot) return;
    const index = slot.idle.findIndex((entry) => entry.session === session);
    if (index < 0) return;
    slot.idle.splice(index, 1);
    this.closeCounted(slot, session);
  }

  /**
   * A closing session still counts as open until its connection is gone, so the remote side never
   * sees more than the limit at once (a new connection waits for the old one's QUIT).
   */
  private closeCounted(slot: HostSlot, session: SmtpSession): Promise<void> {
    const closing = session
      .close()
      .then(() => session.lease?.release())
      .then(() => {
        slot.open--;
        this.closing.delete(closing);
        this.wakeOne(slot);
      });
    this.closing.add(closing);
    return closing;
  }

  /**
   * A site-wide lease for a new connection, or ThrottledError saying when to come back. At the
   * site's connection limit, an idle connection of this pool to the site (another address of it)
   * is closed and its slot taken: a delivery waiting is worth more than a connection doing nothing
   * (the next MX of an attempt whose first one deferred, at a concurrency window of 1).
   */
  private async siteLease(target: SessionTarget): Promise<ConnectionLease | undefined> {
    const { leases } = this.options;
    if (!leases || !target.site || !target.siteMaxConnections) return undefined;
    let lease = await leases.acquire(target.site, target.siteMaxConnections, target.siteConnectionRate);
    while (!('release' in lease) && lease.reason !== 'connection-rate' && (await this.closeIdle(target.site)))
      lease = await leases.acquire(target.site, target.siteMaxConnections, target.siteConnectionRate);
    if ('release' in lease) return lease;
    const text =
      lease.reason === 'connection-rate'
        ? `site ${target.site} is at its connection rate`
        : `site ${target.site} is at its limit of ${target.siteMaxConnections} connections`;
    throw new ThrottledError(
      { code: 451, enhanced: '4.4.5', text, stage: 'connect' },
      Date.now() + lease.retryAfterMs,
    );
  }

  /** Closes the longest idle session of `site` (its lease released); false when there is none. */
  private async closeIdle(site: string): Promise<boolean> {
    for (const slot of this.hosts.values()) {
      if (slot.site !== site) continue;
      const entry = slot.idle.shift();
      if (!entry) continue;
      clearTimeout(entry.timer);
      await this.closeCounted(slot, entry.session);
      return true;
    }
    return false;
  }

  private wakeOne(slot: HostSlot): void {
    slot.waiters.shift()?.();
  }

  private slot(key: string): HostSlot {
    let slot = this.hosts.get(key);
    if (!slot) {
      slot = { idle: [], open: 0, waiters: [] };
      this.hosts.set(key, slot);
    }
    return slot;
  }
}

function keyOf(target: SessionTarget): string {
  // A verified session proved the certificate for its host name and trust set only.
  const trust = `${target.tlsVerify ? `verify:${target.hostname}` : ''}${target.tlsCa ? '+ca' : ''}${target.peerCheck ? `+${target.peerCheck.by}:${target.peerCheck.key}` : ''}`;
  return `${target.site ?? ''}|${target.localAddress ?? '*'}|${target.address}|${target.port}|${target.tls}|${trust}|${target.auth?.username ?? ''}`;
}
