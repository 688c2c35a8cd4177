/**
 * Message handling at intake: input hygiene (NUL / bare CR refused or normalised), trace and
 * identity headers, instruction headers, composing from fields; the 8-bit → 7-bit conversion for
 * next hops without 8BITMIME and for DKIM signing (seven-bit.ts).
 */

export type { MessageAttachment, MessageFields } from './compose.js';
export { composeMessage } from './compose.js';
export type { PreparedMessage, TraceInfo } from './headers.js';
export { findHeader, findHeaders, hasHeader, headerEnd, prepareMessage, rfc5322Date } from './headers.js';
export { cleanIntake, type IntakeCheck } from './hygiene.js';
export type { InstructionKey, TakenInstructions } from './instructions.js';
export {
  INSTRUCTION_HEADERS,
  TRAFFIC_NAME_HINT,
  TRAFFIC_NAME_MAX_CHARS,
  takeInstructions,
  trafficName,
} from './instructions.js';
export { MAX_MIME_DEPTH, toSevenBit } from './seven-bit.js';
