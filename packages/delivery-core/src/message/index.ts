/** Message handling at intake: trace and identity headers, instruction headers, composing from fields. */

export type { MessageFields } from './compose.js';
export { composeMessage } from './compose.js';
export type { PreparedMessage, TraceInfo } from './headers.js';
export { findHeader, hasHeader, headerEnd, prepareMessage, rfc5322Date } from './headers.js';
export type { InstructionKey, TakenInstructions } from './instructions.js';
export {
  INSTRUCTION_HEADERS,
  TRAFFIC_NAME_HINT,
  TRAFFIC_NAME_MAX_CHARS,
  takeInstructions,
  trafficName,
} from './instructions.js';
