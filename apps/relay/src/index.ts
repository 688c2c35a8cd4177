/**
 * @herald/relay — the relay daemon as a factory: SMTP submission, delivery workers and HTTP
 * endpoints over one Herald. `main.ts` is the thin command-line entry point.
 */

export {
  createDoorGuard,
  type DataWatch,
  type DoorGuard,
  type DoorGuardOptions,
  SERVER_MAX_CLIENTS_SLACK,
} from './door-guard.js';
export { smtpError, useOwnEnhancedCodes } from './enhanced-codes.js';
export { type DataCallback, type GuardedDataOptions, receiveGuarded } from './guarded-data.js';
export type { RelayCommandOptions } from './main.js';
export { parseRoles, runRelay } from './main.js';
export type { PolicyReply, SubmissionPolicy } from './policy.js';
export { createPolicy, REPLIES } from './policy.js';
export type { Relay, RelayAddresses, RelayOptions } from './relay.js';
export { createRelay } from './relay.js';
export { attachSmtpHooks, type CommandVerdict, type SmtpHooks } from './smtp-hooks.js';
export { loadTls, readTlsFiles, selfSignedCertificate } from './tls.js';
