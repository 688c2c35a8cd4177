/**
 * @herald/smtp-listener — the parts of an inbound SMTP listener on smtp-server that the relay's
 * submission listener and the bounce-processor share: the door (`createDoorGuard`: per-client
 * limits, AUTH tarpit, junk and error limits, command and DATA deadlines, with its replies in
 * `DOOR_REPLIES`), one DATA transfer behind it (`receiveGuarded`), per-command and per-reply hooks
 * (`attachSmtpHooks`) and exact enhanced codes per server (`useOwnEnhancedCodes`, `smtpError`);
 * DATA un-stuffed in one pass per chunk (`installOnePassUnstuffing`, installed by the door); the
 * level of a listener `error` event (`listenerErrorLevel`: a client's reset is debug).
 * Everything that reaches into smtp-server's private members goes through
 * smtp-server-internals.ts. Depends on delivery-core's `door`, `config`, `events` and `metrics`
 * and on smtp-server; delivery-core itself never needs smtp-server.
 */

export { installOnePassUnstuffing } from './data-unstuffing.js';
export {
  createDoorGuard,
  type DataWatch,
  type DoorGuard,
  type DoorGuardOptions,
  SERVER_MAX_CLIENTS_SLACK,
} from './door-guard.js';
export { DOOR_REPLIES, type EnhancedReply } from './door-replies.js';
export { smtpError, useOwnEnhancedCodes } from './enhanced-codes.js';
export { type DataCallback, type GuardedDataOptions, receiveGuarded } from './guarded-data.js';
export { type ListenerErrorLevel, listenerErrorLevel } from './listener-errors.js';
export {
  attachSmtpHooks,
  type CommandVerdict,
  type SmtpConnectionControl,
  type SmtpHooks,
  type SmtpReplyLine,
} from './smtp-hooks.js';
export { SmtpServerContractError, type SmtpServerTouchpoint } from './smtp-server-internals.js';
