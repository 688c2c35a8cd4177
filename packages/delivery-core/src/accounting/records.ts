/**
 * What an accounting file says: the columns, and the records one stream entry gives (PowerMTA's
 * accounting file is the model: one record per recipient and outcome, the record type first).
 * An `attempt` event gives one record per recipient result: `accepted` or `refused` when a host's
 * session replied, `unreached` when the reply came from no session (the event has no host, or the
 * reply is a connection error) — then the host is the one whose connection error it is, from
 * `hostErrors`. A recipient outcome event gives one record. `RecordContext` remembers, within
 * bounds, what earlier entries said (a message's sender from its `accepted` event, `<>` for the
 * null sender; each attempt result's host for the outcome records that follow it, so both rows
 * name the same host); a field it does not know is left empty, never guessed. Pure: no I/O.
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
/** Attempt results whose host is remembered for the outcome records of the same attempt. */
const RESULTS_KEPT = 100_000;
/** The sender column for the null reverse-path (bounces, DSNs). */
const NULL_SENDER = '<>';

interface MessageFacts {
  from: string;
  stream?: string | undefined;
  campaign?: string | undefined;
}

/** The mx columns of one attempt result, as its attempt record wrote them. */
interface HostFacts {
  mx_host: string;
  mx_ip: string;
  tls: string;
}

type AttemptResult = AttemptEvent['results'][number];
type SmtpReply = AttemptResult['reply'];

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
  private readonly hosts = new Bounded<HostFacts>(RESULTS_KEPT);

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
      const records = this.attemptRecords(entry.id, event);
      for (const record of records)
        if (record.recipient !== '')
          this.hosts.set(resultKey(event, record.recipient), {
            mx_host: record.mx_host,
            mx_ip: record.mx_ip,
            tls: record.tls,
          });
      return keep.has('attempt') ? records : [];
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
    record.sender = facts ? facts.from || NULL_SENDER : '';
    record.domain = event.domain;
    record.attempt = String(event.attempt);
    record.stream = ('stream' in event ? event.stream : undefined) ?? facts?.stream ?? '';
    record.campaign = ('campaign' in event ? event.campaign : undefined) ?? facts?.campaign ?? '';
    return record;
  }

  private attemptRecords(id: string, event: AttemptEvent): AccountingRecord[] {
    if (event.results.length === 0) {
      // No result at all (Herald always gives one per recipient): one record, no recipient.
      const record = this.base(id, event);
      const last = event.hostErrors[event.hostErrors.length - 1];
      record.state = 'unreached';
      if (last) {
        setReply(record, last.reply);
        record.mx_host = last.hostname;
        record.mx_ip = last.address;
      }
      record.latency_ms = String(event.durationMs);
      return [record];
    }
    return event.results.map((result) => {
      const record = this.base(id, event);
      record.recipient = result.address;
      setReply(record, result.reply);
      record.latency_ms = String(event.durationMs);
      const host = event.host;
      // A host session gave this reply, unless it is a connection error (see unreached()).
      if (host && !unreached(result)) {
        record.state = result.accepted ? 'accepted' : 'refused';
        record.mx_host = host.hostname;
        record.mx_ip = host.address;
        record.tls = host.tls ? 'yes' : 'no';
        return record;
      }
      record.state = 'unreached';
      // The host whose connection error this is; without a host session, the last one tried.
      const failed =
        event.hostErrors.findLast(
          (e) => e.reply.code === result.reply.code && e.reply.text === result.reply.text,
        ) ?? (event.host ? undefined : event.hostErrors[event.hostErrors.length - 1]);
      if (failed) {
        record.mx_host = failed.hostname;
        record.mx_ip = failed.address;
      }
      return record;
    });
  }

  private outcomeRecord(id: string, event: RecipientEvent): AccountingRecord {
    const record = this.base(id, event);
    const host = this.hosts.get(resultKey(event, event.recipient));
    record.recipient = event.recipient;
    record.state = event.type;
    setReply(record, event.reply);
    record.mx_host = host?.mx_host ?? event.reply.host ?? '';
    record.mx_ip = host?.mx_ip ?? '';
    record.tls = host?.tls ?? '';
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

/**
 * A connection error: no host session gave this reply even when the attempt has a host (with VERP
 * return paths, a later transaction of the attempt may find no connection).
 */
function unreached(result: AttemptResult): boolean {
  return result.reply.stage === 'connect';
}

function setReply(record: AccountingRecord, reply: SmtpReply): void {
  record.code = String(reply.code);
  record.enhanced_code = reply.enhanced ?? '';
  record.reply = reply.text;
}

function resultKey(event: { messageId: string; domain: string; attempt: number }, recipient: string): string {
  return `${event.messageId}\u0000${event.domain}\u0000${event.attempt}\u0000${recipient.toLowerCase()}`;
}
