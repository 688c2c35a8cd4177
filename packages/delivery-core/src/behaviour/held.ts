/**
 * What one flag episode may hold: a held message's size (`heldBytesOf`: its body plus
 * HELD_ENVELOPE_COPIES × its envelope) and an account's held tally against `max_held_messages` /
 * `max_held_bytes` (`heldStateOf`: the cap it reached, once flagged). Pure; the tallies come from
 * flags.ts.
 */
import type { HeldTally } from './flags.js';

/**
 * Copies of the envelope (sender + every recipient) a behaviour hold stores: the quarantine record,
 * its `accepted` event and its `quarantined` event each carry the recipient list.
 */
export const HELD_ENVELOPE_COPIES = 3;

/**
 * The bytes a held message counts against `max_held_bytes`: its body plus HELD_ENVELOPE_COPIES
 * times its envelope (UTF-8 bytes of the sender and of each recipient), so a tiny body with a long
 * recipient list counts what it occupies.
 */
export function heldBytesOf(message: {
  body: { length: number };
  from: string;
  recipients: readonly string[];
}): number {
  let envelope = Buffer.byteLength(message.from);
  for (const recipient of message.recipients) envelope += Buffer.byteLength(recipient);
  return message.body.length + HELD_ENVELOPE_COPIES * envelope;
}

/** The cap a flagged account's held mail reached: `max_held_messages` or `max_held_bytes`. */
export type HoldCap = 'messages' | 'bytes';

/** What an account holds in its flag episode, against the caps. */
export interface HeldState extends HeldTally {
  maxMessages: number;
  maxBytes: number;
  /** Set when a cap is reached: the account's new mail is refused. */
  capReached?: HoldCap;
}

/** The tally against the caps; no cap is reached unless the account is flagged. */
export function heldStateOf(
  tally: HeldTally,
  flagged: boolean,
  caps: { max_held_messages: number; max_held_bytes: number },
): HeldState {
  const maxMessages = caps.max_held_messages;
  const maxBytes = caps.max_held_bytes;
  const capReached: HoldCap | undefined = !flagged
    ? undefined
    : tally.messages >= maxMessages
      ? 'messages'
      : tally.bytes >= maxBytes
        ? 'bytes'
        : undefined;
  return { ...tally, maxMessages, maxBytes, ...(capReached ? { capReached } : {}) };
}
