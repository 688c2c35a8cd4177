/**
 * Behaviour's keys (compromised-account detection, behaviour/). Counters live in a queue shard's
 * slot, because the spool's enqueue MULTI writes them with the message:
 * `<prefix>:{queue[-i]}:bh:<account>:<kind>:<bucket>` (kind: `n` accepted recipients per minute,
 * `N` per hour, `d` recipient domains per minute (HyperLogLog), `h` hard bounces and `c`
 * complaints per minute; bucket = epoch ms / bucket length); an account's figure is the sum over
 * shards. `<prefix>:{queue[-i]}:bh-msg:<message id>` names the account of a message (for bounces
 * and complaints that come back later). `<prefix>:{queue[-i]}:bh-tmp:<account>:<token>[:<shard>]`
 * is a scratch HyperLogLog of one evaluation (behaviour/spread.ts: another shard's domains merged,
 * or brought into shard 0's slot), written and deleted in one MULTI, with a short PX besides.
 * The flags are one hash used alone:
 * `<prefix>:behaviour:flags` (account → JSON), and when each was last unflagged:
 * `<prefix>:behaviour:cleared` (account → epoch ms). What a flagged account has held in quarantine
 * in its current flag episode is one hash used alone: `<prefix>:behaviour:held` (fields
 * `<account>:n` messages, `<account>:bytes` body bytes; HINCRBY after each hold, HDEL at flag and
 * unflag). Pure.
 */
import { queueSlot } from './queue.js';

export type BehaviourKind = 'n' | 'N' | 'd' | 'h' | 'c';

export function behaviourCounterKey(
  prefix: string,
  account: string,
  kind: BehaviourKind,
  bucket: number,
  shard = 0,
): string {
  return `${queueSlot(prefix, shard)}:bh:${account.toLowerCase()}:${kind}:${bucket}`;
}

export function behaviourMessageKey(prefix: string, messageId: string, shard = 0): string {
  return `${queueSlot(prefix, shard)}:bh-msg:${messageId}`;
}

/** A scratch HyperLogLog of one spread count in `shard`'s slot (`from`: the shard it copies). */
export function behaviourSpreadScratchKey(
  prefix: string,
  account: string,
  token: string,
  shard: number,
  from?: number,
): string {
  const tail = from === undefined ? '' : `:${from}`;
  return `${queueSlot(prefix, shard)}:bh-tmp:${account.toLowerCase()}:${token}${tail}`;
}

export function behaviourFlagsKey(prefix: string): string {
  return `${prefix}:behaviour:flags`;
}

/** When each account was last unflagged (hash: account → epoch ms), used alone. */
export function behaviourClearedKey(prefix: string): string {
  return `${prefix}:behaviour:cleared`;
}

/** Held mail per flagged account (hash: `<account>:n`, `<account>:bytes`), used alone. */
export function behaviourHeldKey(prefix: string): string {
  return `${prefix}:behaviour:held`;
}

/** The fields of `behaviourHeldKey` for one account: its held messages and bytes. */
export function behaviourHeldFields(account: string): { messages: string; bytes: string } {
  const name = account.toLowerCase();
  return { messages: `${name}:n`, bytes: `${name}:bytes` };
}
