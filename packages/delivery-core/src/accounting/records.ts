/**
 * What an accounting file says: the columns, and the records one stream entry gives (PowerMTA's
 * accounting file is the model: one record per recipient and outcome, the record type first).
 * An `attempt` event gives one record per recipient result (or one, recipient empty, when no host
 * answered); a recipient outcome event gives one record. `RecordContext` remembers, within bounds,
 * what earlier entries said (a message's sender from its `accepted` event, an attempt's host for
 * the outcome records that follow it); a field it does not know is left empty, never guessed.
 * Pure: no I/O.
 */
import type { AccountingRecordType } from '../config/index.js';
import type { AttemptEvent, HeraldEvent, RecipientEvent, StreamEvent } from '../events/index.js';

/** The columns of every record, in file order (CSV header, JSON key order). */
export const ACCOUNTING_COLUMNS = [
  'type',
  'time',
  'stream_id',
  'message_id',
  'tenant',
  'sender',
  'recipient',
  'domain',
  'state',
  'attempt',
  'code',
  'enhanced_code',
  'reply',
  'mx_host',
  'mx_ip',
  'tls',
  'latency_ms',
  'retry_class',
  'next_attempt',
  'stream',
  'campaign',
  'operator',
] as const;

export type AccountingColumn = (typeof ACCOUNTING_COLUMNS)[number];
/** One record: every column, empty string when not known or not applicable. */
export type AccountingRecord = Record<AccountingColumn, string>;

/** Messages whose sender and stream are remembered (from `accepted`), oldest forgotten first. */
const SENDERS_KEPT = 100_000;
/** Attempts whose host is remembered for the outcome records of the same attempt. */
const HOSTS_KEPT = 10_000;

interface MessageFacts {
  from: string;
  stream?: string | undefined;
  campaign?: string | undefined;
}

interface HostFacts {
  hostname: string;
  address: string;
  tls: boolean;
}

/** A Map that forgets its oldest entry past `limit`. */
class Bounded<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit: number) {}
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as string);
  }
  get(key: string): V | undefined {
    return this.map.get(key);
  }
}

/** Remembers what earlier stream entries said; feed it every entry in stream order. */
export class RecordContext {
  private readonly messages = new Bounded<MessageFacts>(SENDERS_KEPT);
  private readonly hosts = new Bounded<HostFacts>(HOSTS_KEPT);

  /** The records of one stream entry, for the record types kept (none for other events). */
  recordsOf(entry: StreamEvent, keep: ReadonlySet<AccountingRecordType>): AccountingRecord[] {
    const { event } = entry;
    if (event.type === 'accepted') {
      this.messages.set(event.messageId, {
        from: event.from,
        stream: event.stream,
        campaign: event.campaign,
      });
      return [];
    }
    if (event.type === 'attempt') {
      if (event.host) this.hosts.set(attemptKey(event), event.host);
      return keep.has('attempt') ? this.attemptRecords(entry.id, event) : [];
    }
    if (isRecipientEvent(event)) return keep.has(event.type) ? [this.outcomeRecord(entry.id, event)] : [];
    return [];
  }

  private base(id: string, event: AttemptEvent | RecipientEvent): AccountingRecord {
    const facts = this.messages.get(event.messageId);
    const record = Object.fromEntries(ACCOUNTING_COLUMNS.map((c) => [c, ''])) as AccountingRecord;
    record.type = event.type;
    record.time = new Date(event.time).toISOString();
    record.stream_id = id;
    record.message_id = event.messageId;
    record.tenant = event.tenant;
    record.sender = facts?.from ?? '';
    record.domain = event.domain;
    record.attempt = String(event.attempt);
    record.stream = ('stream' in event ? event.stream : undefined) ?? facts?.stream ?? '';
    record.campaign = ('campaign' in event ? event.campaign : undefined) ?? facts?.campaign ?? '';
    return record;
  }

  private attemptRecords(id: string, event: AttemptEvent): AccountingRecord[] {
    const host = event.host;
    const onHost = (record: AccountingRecord): AccountingRecord => {
      if (!host) return record;
      record.mx_host = host.hostname;
      record.mx_ip = host.address;
      record.tls = host.tls ? 'yes' : 'no';
      return record;
    };
    if (event.results.length === 0) {
      // No host took the transaction: one record with the last connection-level error.
      const record = onHost(this.base(id, event));
      const last = event.hostErrors[event.hostErrors.length - 1];
      record.state = 'unreached';
      if (last) {
        record.code = String(last.reply.code);
        record.enhanced_code = last.reply.enhanced ?? '';
        record.reply = last.reply.text;
        if (!host) {
          record.mx_host = last.hostname;
          record.mx_ip = last.address;
        }
      }
      record.latency_ms = String(event.durationMs);
      return [record];
    }
    return event.results.map((result) => {
      const record = onHost(this.base(id, event));
      record.recipient = result.address;
      record.state = result.accepted ? 'accepted' : 'refused';
      record.code = String(result.reply.code);
      record.enhanced_code = result.reply.enhanced ?? '';
      record.reply = result.reply.text;
      record.latency_ms = String(event.durationMs);
      return record;
    });
  }

  private outcomeRecord(id: string, event: RecipientEvent): AccountingRecord {
    const record = this.base(id, event);
    const host = this.hosts.get(attemptKey(event));
    record.recipient = event.recipient;
    record.state = event.type;
    record.code = String(event.reply.code);
    record.enhanced_code = event.reply.enhanced ?? '';
    record.reply = event.reply.text;
    record.mx_host = host?.hostname ?? event.reply.host ?? '';
    record.mx_ip = host?.address ?? '';
    record.tls = host ? (host.tls ? 'yes' : 'no') : '';
    record.latency_ms = String(event.latencyMs);
    record.retry_class = event.retryClass ?? '';
    record.operator = event.operator ?? '';
    record.next_attempt =
      event.nextAttemptAt === undefined ? '' : new Date(event.nextAttemptAt).toISOString();
    return record;
  }
}

const RECIPIENT_TYPES = new Set<string>(['delivered', 'bounced', 'expired', 'suppressed', 'deferred']);

function isRecipientEvent(event: HeraldEvent): event is RecipientEvent {
  return RECIPIENT_TYPES.has(event.type);
}

function attemptKey(event: { messageId: string; domain: string; attempt: number }): string {
  return `${event.messageId}\u0000${event.domain}\u0000${event.attempt}`;
}
