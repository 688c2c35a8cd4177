/**
 * @herald/relay — the relay daemon as a factory: SMTP submission, delivery workers and HTTP
 * endpoints over one Herald. `main.ts` is the thin command-line entry point. The listener parts
 * it shares with the bounce-processor (door, guarded DATA, hooks) are in @herald/smtp-listener.
 */

export { DELIVERY_THREAD_YOUNG_GENERATION_MB, RELAY_NODE_FLAGS, RELAY_SEMI_SPACE_MB } from './heap.js';
export type { RelayCommandOptions } from './main.js';
export { parseRoles, runRelay } from './main.js';
export type { PolicyReply, SubmissionPolicy } from './policy.js';
export { createPolicy, REPLIES } from './policy.js';
export type { Relay, RelayAddresses, RelayOptions } from './relay.js';
export { createRelay } from './relay.js';
export type { RelayReloadResult, ThreadReloadResult } from './reload.js';
export { livePolicy } from './reload.js';
export { loadTls, readTlsFiles, selfSignedCertificate } from './tls.js';
