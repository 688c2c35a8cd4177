/** Message handling at intake: trace and identity headers, composing from fields. */

export type { MessageFields } from './compose.js';
export { composeMessage } from './compose.js';
export type { PreparedMessage, TraceInfo } from './headers.js';
export { findHeader, hasHeader, headerEnd, prepareMessage, rfc5322Date } from './headers.js';
