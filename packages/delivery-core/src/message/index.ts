/** Message handling at intake: trace and identity headers, composing from fields. */
export { prepareMessage, headerEnd, hasHeader, findHeader, rfc5322Date } from './headers.js';
export type { PreparedMessage, TraceInfo } from './headers.js';
export { composeMessage } from './compose.js';
export type { MessageFields } from './compose.js';
