/**
 * The door: limits an inbound listener applies to the clients at it, so one stranger cannot
 * exhaust what every client shares (Postfix's anvil and smtpd limits are the reference).
 *
 * Owns, in memory per process (relays do not share these counts):
 * - `ClientDoor`: per client (IPv4 address or IPv6 /prefix network, `clientKey`) connections at
 *   once, new connections per time unit, AUTH failures with a growing tarpit delay, temporary
 *   blocks; per user a delay (never a lockout); exceptions by CIDR; bounded memory (LRU).
 * - `SessionCounters`: per session junk commands, error replies (soft sleep, hard limit), AUTH
 *   failures.
 * - `dataPaceVerdict`: whole-transfer deadline and minimum average rate after a grace period.
 * - `withDeadline`: a deadline on one awaited step (e.g. a Redis call while a client waits);
 *   util/'s timeout helper, re-exported here for the door's callers.
 *
 * Guarantees: pure logic over an injected clock (no I/O, no timers except withDeadline's);
 * never throws on foreign input (any address string is a key). The caller turns a refusal into
 * its protocol's reply (SMTP `421 4.7.0` and close; HTTP 429) and emits events / metrics.
 * `doorFromSmtpConfig` builds the door and session limits from the `smtp` config section.
 */

export { DeadlineExceeded, withDeadline } from '../util/index.js';
export { BoundedMap } from './bounded-map.js';
export {
  type Admission,
  type AuthOutcome,
  ClientDoor,
  type ClientDoorOptions,
  type DoorLimits,
  type DoorRefusal,
  type DoorTicket,
  MAX_TRACKED_CLIENTS,
  MAX_TRACKED_USERS,
} from './client-door.js';
export { clientKey, MAX_KEY_CHARS } from './client-key.js';
export {
  DATA_PACE_CHECK_MS,
  type DataPaceLimits,
  type DataPaceVerdict,
  dataPaceVerdict,
} from './data-pace.js';
export { doorFromSmtpConfig, type SmtpDoorSettings } from './from-config.js';
export { SessionCounters, type SessionLimit, type SessionLimits } from './session-limits.js';
