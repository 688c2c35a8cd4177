/**
 * The relay's side of live reload (delivery-core's `herald.reloadConfig` does the config's):
 * `livePolicy` gives the SMTP listener a policy that always asks the one in force, so a reload's
 * new users answer the next AUTH while an open session keeps its authenticated user;
 * `RelayReloadResult` is what `relay.reload()` answers (Herald's result and each delivery
 * thread's). Owns no state.
 */
import type { ReloadResult } from '@herald/delivery-core';
import type { SubmissionPolicy } from './policy.js';

/** A delivery thread's answer to a reload: the version it runs now. */
export interface ThreadReloadResult {
  thread: number;
  ok: boolean;
  hash: string;
  error?: string | undefined;
}

export type RelayReloadResult = ReloadResult & { threads: ThreadReloadResult[] };

/** A policy delegating each stage to `current()` at the moment the stage runs. */
export function livePolicy(current: () => SubmissionPolicy): SubmissionPolicy {
  return {
    onAuth: (username, password, facts) => current().onAuth(username, password, facts),
    onMailFrom: (address, facts) => current().onMailFrom(address, facts),
    onRcptTo: (address, facts) => current().onRcptTo(address, facts),
    onSuppressedRecipient: (address, entry, facts) => current().onSuppressedRecipient(address, entry, facts),
    onData: (raw, facts, from) => current().onData(raw, facts, from),
    tenantOf: (facts) => current().tenantOf(facts),
  };
}
