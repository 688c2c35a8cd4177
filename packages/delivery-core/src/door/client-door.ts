/**
 * ClientDoor: per-client admission and AUTH failure accounting for an inbound listener, in the
 * manner of Postfix's anvil. A client is the key `clientKey` gives its address (IPv4 address, or
 * IPv6 network of `ipv6PrefixBits`). Clients in `exceptions` pass uncounted.
 *
 * Guarantees, per process (nothing is shared between relays):
 * - at most `maxConnections` admitted and not yet left connections per client;
 * - at most `maxConnectionRate` admissions per client in any window of `rateWindowMs` (GCRA:
 *   a burst of that many, then one per window / rate); a refused attempt is not counted;
 * - `authFailureLimit` AUTH failures of a client, each within `authFailureWindowMs` of the one
 *   before, block the client for `blockMs`: every admission is refused until then;
 * - an AUTH from a client with n recent failures waits authDelayMs × 2^(n-1) (at most
 *   authMaxDelayMs) before its reply, success or failure alike, so the wait tells nothing; a user
 *   with n >= userFailureThreshold recent failures (from any client) makes every AUTH as that
 *   user wait authDelayMs × 2^(n - threshold), capped the same way. Users are slowed, never
 *   locked out: a stranger's guesses must not shut the real user out;
 * - a refusal is flagged `report` once per client and reason per rate window, so events about a
 *   flood stay few;
 * - memory is bounded: live counts exist only for clients with open connections, and what is
 *   remembered about clients and users lives in LRU maps of `maxTrackedClients` /
 *   `maxTrackedUsers` entries; past that the least recently seen are forgotten (fail open).
 *
 * Needs injected: the limits and a clock (`now`, epoch ms; Date.now by default). Pure otherwise.
 */
import { compileTrustedNetworks } from '../config/index.js';
import { BoundedMap } from './bounded-map.js';
import { clientKey } from './client-key.js';

/** Clients (addresses or IPv6 networks) remembered for rates, failures and blocks. */
export const MAX_TRACKED_CLIENTS = 100_000;
/** User names remembered for AUTH failures. */
export const MAX_TRACKED_USERS = 10_000;
/** 2^this is the largest tarpit multiplier computed (the cap applies long before). */
const MAX_DOUBLINGS = 30;

export type DoorRefusal = 'blocked' | 'connections' | 'connection_rate';

export interface DoorLimits {
  maxConnections: number;
  maxConnectionRate: number;
  rateWindowMs: number;
  authFailureLimit: number;
  authFailureWindowMs: number;
  blockMs: number;
  authDelayMs: number;
  authMaxDelayMs: number;
  userFailureThreshold: number;
  ipv6PrefixBits: number;
}

export interface ClientDoorOptions {
  limits: DoorLimits;
  /** CIDRs or addresses whose clients pass uncounted: no connection limits, tarpit or block. */
  exceptions?: readonly string[];
  now?: () => number;
  maxTrackedClients?: number;
  maxTrackedUsers?: number;
}

/** An admitted connection; hand it back to `leave` when the connection ends (once is enough). */
export interface DoorTicket {
  readonly client: string;
  readonly counted: boolean;
}

export type Admission =
  | { admitted: true; ticket: DoorTicket }
  | { admitted: false; client: string; reason: DoorRefusal; retryAfterMs: number; report: boolean };

export interface AuthOutcome {
  client: string;
  /** Wait this long before answering the AUTH. */
  delayMs: number;
  /** Set when this failure blocked the client: the block's end (epoch ms). */
  blockedUntil?: number;
}

interface ClientRecord {
  /** GCRA: when the next connection would be "due" if every admission were spaced evenly. */
  tat: number;
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
  reportedAt: Partial<Record<DoorRefusal, number>>;
}

interface UserRecord {
  failures: number;
  lastFailureAt: number;
}

export class ClientDoor {
  private readonly limits: DoorLimits;
  private readonly now: () => number;
  private readonly exempt: (address: string) => boolean;
  private readonly clients: BoundedMap<string, ClientRecord>;
  private readonly users: BoundedMap<string, UserRecord>;
  /** Open connections per client; an entry exists only while its count is above 0. */
  private readonly live = new Map<string, number>();
  private readonly open = new WeakSet<DoorTicket>();

  constructor(options: ClientDoorOptions) {
    this.limits = { ...options.limits };
    this.now = options.now ?? Date.now;
    this.exempt = compileTrustedNetworks(options.exceptions ?? []);
    this.clients = new BoundedMap(options.maxTrackedClients ?? MAX_TRACKED_CLIENTS);
    this.users = new BoundedMap(options.maxTrackedUsers ?? MAX_TRACKED_USERS);
  }

  /** The client key of `address` (what limits, events and metrics name). */
  keyOf(address: string): string {
    return clientKey(address, this.limits.ipv6PrefixBits);
  }

  /** A new connection from `address`: admitted (with a ticket) or refused with the reason. */
  admit(address: string): Admission {
    const client = this.keyOf(address);
    if (this.exempt(address)) return { admitted: true, ticket: this.ticket(client, false) };
    const now = this.now();
    const { maxConnections, maxConnectionRate, rateWindowMs } = this.limits;
    const record = this.record(client, now);
    if (record.blockedUntil > now)
      return this.refuse(client, record, 'blocked', record.blockedUntil - now, now);
    if ((this.live.get(client) ?? 0) >= maxConnections)
      return this.refuse(client, record, 'connections', 0, now);
    const tat = Math.max(record.tat, now) + rateWindowMs / maxConnectionRate;
    if (tat - now > rateWindowMs)
      return this.refuse(client, record, 'connection_rate', Math.ceil(tat - rateWindowMs - now), now);
    record.tat = tat;
    this.live.set(client, (this.live.get(client) ?? 0) + 1);
    return { admitted: true, ticket: this.ticket(client, true) };
  }

  /** The connection of `ticket` ended. Idempotent. */
  leave(ticket: DoorTicket): void {
    if (!this.open.delete(ticket) || !ticket.counted) return;
    const left = (this.live.get(ticket.client) ?? 1) - 1;
    if (left > 0) this.live.set(ticket.client, left);
    else this.live.delete(ticket.client);
  }

  /** True while `address`'s client is blocked. */
  isBlocked(address: string): boolean {
    if (this.exempt(address)) return false;
    return (this.clients.peek(this.keyOf(address))?.blockedUntil ?? 0) > this.now();
  }

  /**
   * Records one AUTH outcome from `address` for `user` (pass a user only when it exists, so
   * strangers' made-up names take no memory) and says how long to wait before the reply.
   */
  authResult(address: string, user: string | undefined, ok: boolean): AuthOutcome {
    const now = this.now();
    const client = this.keyOf(address);
    const { authFailureLimit, authFailureWindowMs, blockMs, userFailureThreshold } = this.limits;
    const outcome: AuthOutcome = { client, delayMs: 0 };
    if (!this.exempt(address)) {
      const record = this.record(client, now);
      const failures = countFailure(record, ok, now, authFailureWindowMs);
      outcome.delayMs = this.delay(failures, 1);
      if (failures >= authFailureLimit) {
        record.blockedUntil = now + blockMs;
        record.failures = 0;
        outcome.blockedUntil = record.blockedUntil;
      }
    }
    if (user !== undefined) {
      const record = this.users.get(user) ?? { failures: 0, lastFailureAt: 0 };
      this.users.set(user, record);
      const failures = countFailure(record, ok, now, authFailureWindowMs);
      outcome.delayMs = Math.max(outcome.delayMs, this.delay(failures, userFailureThreshold));
    }
    return outcome;
  }

  /** What the door holds now (memory bounds, tests). */
  stats(): { clients: number; users: number; live: number } {
    return { clients: this.clients.size, users: this.users.size, live: this.live.size };
  }

  /** authDelayMs × 2^(failures - from), capped; 0 below `from`. */
  private delay(failures: number, from: number): number {
    if (failures < from) return 0;
    const { authDelayMs, authMaxDelayMs } = this.limits;
    return Math.min(authMaxDelayMs, authDelayMs * 2 ** Math.min(failures - from, MAX_DOUBLINGS));
  }

  private record(client: string, now: number): ClientRecord {
    let record = this.clients.get(client);
    if (!record) {
      record = { tat: now, failures: 0, lastFailureAt: 0, blockedUntil: 0, reportedAt: {} };
      this.clients.set(client, record);
    }
    return record;
  }

  private refuse(
    client: string,
    record: ClientRecord,
    reason: DoorRefusal,
    retryAfterMs: number,
    now: number,
  ): Admission {
    const last = record.reportedAt[reason];
    const report = last === undefined || now - last >= this.limits.rateWindowMs;
    if (report) record.reportedAt[reason] = now;
    return { admitted: false, client, reason, retryAfterMs, report };
  }

  private ticket(client: string, counted: boolean): DoorTicket {
    const ticket: DoorTicket = { client, counted };
    this.open.add(ticket);
    return ticket;
  }
}

/** Adds a failure (when !ok) to a streak that lapses after `windowMs` without one; the count. */
function countFailure(
  record: { failures: number; lastFailureAt: number },
  ok: boolean,
  now: number,
  windowMs: number,
): number {
  if (now - record.lastFailureAt > windowMs) record.failures = 0;
  if (!ok) {
    record.failures += 1;
    record.lastFailureAt = now;
  }
  return record.failures;
}
