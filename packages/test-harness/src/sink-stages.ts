/**
 * What a sink can do at each SMTP stage besides its normal reply: the chaos vocabulary. Stages are
 * the greeting, EHLO/HELO, MAIL, RCPT, DATA (the 354), the message body, the end of data (the reply
 * to the final dot), RSET and QUIT. A behaviour is one of: reply with a given 4xx/5xx (then close
 * when asked, and always after a 421), drop (destroy the socket, no reply), stall (hold the reply
 * for `ms`, until a promise settles, or forever), drip (send the reply one byte every `intervalMs`). At `body` only `drop`
 * applies (the socket is destroyed when the first body bytes arrive, before the final dot).
 * Pure; the reply gate (reply-gate.ts) carries behaviours out, chaos.ts picks them at random.
 */
import type { SinkReply } from './sink-script.js';

export const SINK_STAGES = [
  'greeting',
  'ehlo',
  'mail',
  'rcpt',
  'data',
  'body',
  'dataEnd',
  'rset',
  'quit',
] as const;
export type SinkStage = (typeof SINK_STAGES)[number];
/** A stage, or 'other' for commands outside the list (NOOP, VRFY, …) and unsolicited replies. */
export type TranscriptStage = SinkStage | 'other';

const MIN_FAILURE_CODE = 400;
const CLOSING_CODE = 421;

export type SinkBehaviour =
  /** Reply with this (4xx/5xx) instead of the normal reply; `close` (default: only after 421) then FIN. */
  | { kind: 'reply'; reply: SinkReply; close?: boolean }
  /** Destroy the socket instead of replying (for `body`: on the first body bytes). */
  | { kind: 'drop' }
  /**
   * Say nothing for `ms` (or until `until` settles), then send the normal reply; with neither, say
   * nothing ever again.
   */
  | { kind: 'stall'; ms?: number; until?: Promise<unknown> }
  /** Send the reply (the normal one, or `reply`) one byte every `intervalMs`. */
  | { kind: 'drip'; intervalMs: number; reply?: SinkReply; close?: boolean };

/** What a stage rule sees when a command (or the connection, for `greeting`) arrives. */
export interface StageContext {
  stage: SinkStage;
  /** The sink's 1-based connection number. */
  connection: number;
  /** 1-based MAIL count on this connection (0 before the first MAIL). */
  transaction: number;
  /** The command line as the client sent it ('' for the greeting and the body, '.' for the end of data). */
  command: string;
  /** RCPT: the recipient; MAIL: the sender. */
  address?: string;
  /** The transaction's recipients so far (every RCPT since MAIL, whatever its reply). */
  recipients: readonly string[];
  clientAddress: string;
}

export type StageRule = (ctx: StageContext) => SinkBehaviour | undefined;
/** Per stage a fixed behaviour or a rule, or one rule for every stage. */
export type StageScript = Partial<Record<SinkStage, SinkBehaviour | StageRule>> | StageRule;

/** The behaviour `script` gives for `ctx`, validated; undefined = the normal reply. */
export function behaviourFor(script: StageScript | undefined, ctx: StageContext): SinkBehaviour | undefined {
  if (script === undefined) return undefined;
  const entry = typeof script === 'function' ? script : script[ctx.stage];
  const behaviour = typeof entry === 'function' ? entry(ctx) : entry;
  if (behaviour !== undefined) checkBehaviour(behaviour, ctx.stage);
  return behaviour;
}

function checkBehaviour(behaviour: SinkBehaviour, stage: SinkStage): void {
  const reply = replyOverride(behaviour);
  if (reply && reply.code < MIN_FAILURE_CODE) {
    throw new Error(`sink stage ${stage}: a scripted reply must be 4xx/5xx, got ${reply.code}`);
  }
  if (stage === 'body' && behaviour.kind !== 'drop') {
    throw new Error(`sink stage body: only 'drop' applies, got '${behaviour.kind}'`);
  }
}

/** The reply a behaviour puts in place of the normal one, if any. */
export function replyOverride(behaviour: SinkBehaviour | undefined): SinkReply | undefined {
  if (behaviour?.kind === 'reply') return behaviour.reply;
  if (behaviour?.kind === 'drip') return behaviour.reply;
  return undefined;
}

/**
 * Whether the sink closes the connection after a reply with code `code`: the behaviour's `close`
 * when given (false also keeps smtp-server from closing), else true after a 421, else undefined
 * (as smtp-server does: it closes after a refused greeting and after any 421 it sends).
 */
export function closeAfterReply(behaviour: SinkBehaviour | undefined, code: number): boolean | undefined {
  const explicit = behaviour?.kind === 'reply' || behaviour?.kind === 'drip' ? behaviour.close : undefined;
  return explicit ?? (code === CLOSING_CODE ? true : undefined);
}

/** The stage a command line starts ('other' for anything outside SINK_STAGES' commands). */
export function stageOfCommand(line: string): TranscriptStage {
  const verb = /^\s*([A-Za-z]+)/.exec(line)?.[1]?.toUpperCase();
  switch (verb) {
    case 'EHLO':
    case 'HELO':
      return 'ehlo';
    case 'MAIL':
      return 'mail';
    case 'RCPT':
      return 'rcpt';
    case 'DATA':
      return 'data';
    case 'RSET':
      return 'rset';
    case 'QUIT':
      return 'quit';
    default:
      return 'other';
  }
}

/** The address in `MAIL FROM:<a>` / `RCPT TO:<a>` ('' for `<>`), or undefined. */
export function addressOfCommand(line: string): string | undefined {
  const match = /^\s*(?:MAIL\s+FROM|RCPT\s+TO)\s*:\s*<([^>]*)>/i.exec(line);
  return match?.[1];
}

// Small constructors, so scripts read like the behaviour.
export const replyWith = (code: number, enhanced?: string, text?: string): SinkBehaviour => ({
  kind: 'reply',
  reply: { code, ...(enhanced ? { enhanced } : {}), ...(text ? { text } : {}) },
});
export const replyAndClose = (code: number, enhanced?: string, text?: string): SinkBehaviour => ({
  kind: 'reply',
  reply: { code, ...(enhanced ? { enhanced } : {}), ...(text ? { text } : {}) },
  close: true,
});
export const DROP: SinkBehaviour = Object.freeze({ kind: 'drop' });
export const STALL_FOREVER: SinkBehaviour = Object.freeze({ kind: 'stall' });
export const stallFor = (ms: number): SinkBehaviour => ({ kind: 'stall', ms });
/** Holds the reply until `released` settles (a test's own moment, not a clock's). */
export const stallUntil = (released: Promise<unknown>): SinkBehaviour => ({ kind: 'stall', until: released });
export const drip = (intervalMs: number, replyInstead?: SinkReply): SinkBehaviour => ({
  kind: 'drip',
  intervalMs,
  ...(replyInstead ? { reply: replyInstead } : {}),
});
