/**
 * The ground truth of a sink: per connection, every command and what became of its reply (written
 * in full, dropped, cut short, never sent), and from those transcripts, per recipient, the verdict
 * of every transaction it was part of. Only a 2xx written in full after the final dot accepts a
 * recipient; a message received in full and then dropped or stalled is `received`, not accepted
 * (the classic SMTP duplicate). Pure; the reply gate (reply-gate.ts) writes the transcripts.
 */
import type { SinkStage, TranscriptStage } from './sink-stages.js';

/** What became of one reply. */
export type ReplyFate =
  | { kind: 'written'; code: number; text: string; at: number }
  /** The sink destroyed the connection instead of replying. */
  | { kind: 'dropped'; at: number }
  /** A drip cut short: these bytes went out, the rest never did. */
  | { kind: 'partial'; sent: string; at: number }
  /** The connection ended while the reply was held back (a stall) or before it was made. */
  | { kind: 'unanswered'; at: number };

export interface TranscriptEntry {
  stage: TranscriptStage;
  /** The client's line; '' for the greeting and the body, '.' for the end of data. */
  command: string;
  /** MAIL: the sender; RCPT: the recipient. */
  address?: string;
  /** The chaos behaviour applied, if any. */
  behaviour?: string;
  /** When the command arrived (epoch ms). */
  at: number;
  /** Unset while the reply is pending. */
  fate?: ReplyFate;
  /** End of data: the sink received the whole message (whatever became of the reply). */
  received?: boolean;
  /** The sink closed the connection after this reply. */
  closed?: boolean;
}

export interface ConnectionTranscript {
  /** The sink's 1-based connection number. */
  connection: number;
  clientAddress: string;
  openedAt: number;
  closedAt?: number;
  entries: TranscriptEntry[];
}

export type VerdictFailure = 'dropped' | 'partial' | 'unanswered' | 'abandoned';

/** How one transaction ended for one recipient. */
export interface Verdict {
  connection: number;
  transaction: number;
  /** The first of MAIL, RCPT, DATA, body, end of data that did not succeed; 'dataEnd' when accepted. */
  stage: SinkStage;
  accepted: boolean;
  /** The deciding reply, when one was written in full. */
  reply?: { code: number; text: string };
  /** Otherwise why there was none ('abandoned': the transaction ended before that stage). */
  failure?: VerdictFailure;
  /** The whole message reached the sink in this transaction. */
  received: boolean;
  /** When it was decided (epoch ms). */
  at: number;
  /** Every reply written in full for it in this transaction, up to the deciding one. */
  replies: { stage: SinkStage; code: number; text: string }[];
}

export interface RecipientTruth {
  recipient: string;
  /** In time order. */
  verdicts: Verdict[];
  /** Transactions that accepted it (more than one: a duplicate delivery). */
  accepted: number;
  /** Transactions in which its message reached the sink in full, acknowledged or not. */
  received: number;
  last?: Verdict;
}

const SUCCESS: Partial<Record<TranscriptStage, number>> = { mail: 2, rcpt: 2, data: 3, dataEnd: 2 };
const TRANSACTION_STEPS: readonly SinkStage[] = ['mail', 'rcpt', 'data', 'body', 'dataEnd'];

interface Transaction {
  n: number;
  steps: Partial<Record<SinkStage, TranscriptEntry>>;
  rcpts: TranscriptEntry[];
}

/** Per recipient (lower-cased), every verdict the sink's transcripts hold. */
export function recipientTruth(transcripts: readonly ConnectionTranscript[]): Map<string, RecipientTruth> {
  const truth = new Map<string, RecipientTruth>();
  const record = (recipient: string, verdict: Verdict) => {
    const key = recipient.toLowerCase();
    const entry = truth.get(key) ?? { recipient: key, verdicts: [], accepted: 0, received: 0 };
    truth.set(key, entry);
    entry.verdicts.push(verdict);
  };
  for (const transcript of transcripts) {
    for (const [recipient, verdict] of connectionVerdicts(transcript)) record(recipient, verdict);
  }
  for (const entry of truth.values()) {
    entry.verdicts.sort((a, b) => a.at - b.at);
    entry.accepted = entry.verdicts.filter((v) => v.accepted).length;
    entry.received = entry.verdicts.filter((v) => v.received).length;
    entry.last = entry.verdicts.at(-1);
  }
  return truth;
}

function connectionVerdicts(transcript: ConnectionTranscript): [string, Verdict][] {
  const out: [string, Verdict][] = [];
  let count = 0;
  let tx: Transaction | undefined;
  const close = () => {
    if (tx) for (const rcpt of tx.rcpts) out.push([rcpt.address ?? '', verdictOf(transcript, tx, rcpt)]);
    tx = undefined;
  };
  for (const entry of transcript.entries) {
    switch (entry.stage) {
      case 'mail':
        close();
        tx = { n: ++count, steps: { mail: entry }, rcpts: [] };
        break;
      case 'rcpt':
        tx ??= { n: ++count, steps: {}, rcpts: [] };
        tx.rcpts.push(entry);
        break;
      case 'data':
      case 'body':
        if (tx) tx.steps[entry.stage] = entry;
        break;
      case 'dataEnd':
        if (tx) tx.steps.dataEnd = entry;
        close();
        break;
      case 'ehlo':
      case 'rset':
      case 'quit':
        close();
        break;
      default:
        break;
    }
  }
  close();
  return out;
}

function verdictOf(transcript: ConnectionTranscript, tx: Transaction, rcpt: TranscriptEntry): Verdict {
  const received = tx.steps.dataEnd?.received === true;
  const replies: Verdict['replies'] = [];
  const base = { connection: transcript.connection, transaction: tx.n, received, replies };
  for (const stage of TRANSACTION_STEPS) {
    const entry = stage === 'rcpt' ? rcpt : tx.steps[stage];
    if (entry === undefined) {
      // The body is recorded only when the sink dropped it; a RCPT without MAIL has its own reply.
      if (stage === 'body' || stage === 'mail') continue;
      const at = transcript.closedAt ?? rcpt.fate?.at ?? rcpt.at;
      return { ...base, stage, accepted: false, failure: 'abandoned', at };
    }
    const fate = entry.fate ?? { kind: 'unanswered', at: transcript.closedAt ?? entry.at };
    if (fate.kind !== 'written') return { ...base, stage, accepted: false, failure: fate.kind, at: fate.at };
    const reply = { code: fate.code, text: fate.text };
    replies.push({ stage, ...reply });
    if (Math.floor(fate.code / 100) !== SUCCESS[stage]) {
      return { ...base, stage, accepted: false, reply, at: fate.at };
    }
    if (stage === 'dataEnd') return { ...base, stage, accepted: true, reply, at: fate.at };
  }
  throw new Error('unreachable: a transaction always ends at dataEnd or earlier');
}
