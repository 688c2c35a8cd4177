/**
 * The replies of the door (door-guard.ts), each with its exact basic and enhanced code. A 421
 * answers and closes the connection (RFC 5321 §3.8). The relay's submission policy lists them
 * among its own replies (apps/relay/src/policy.ts `REPLIES`).
 */

/** A reply with its RFC 3463 enhanced code, written "<code> <enhanced> <text>". */
export interface EnhancedReply {
  code: number;
  enhanced: string;
  text: string;
}

export const DOOR_REPLIES = {
  authNeedsTls: {
    code: 538,
    enhanced: '5.7.11',
    text: 'Encryption required for requested authentication mechanism',
  },
  tooManyConnections: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many connections from your address, try again later',
  },
  connectionRate: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many new connections from your address, try again later',
  },
  clientBlocked: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many failed authentications from your address, try again later',
  },
  authFailuresInSession: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many failed authentications, closing connection',
  },
  junkCommands: { code: 421, enhanced: '4.7.0', text: 'Too many commands without mail, closing connection' },
  tooManyErrors: { code: 421, enhanced: '4.7.0', text: 'Too many errors, closing connection' },
  /** RFC 3463 4.4.2: bad connection (the transfer did not finish in time). */
  dataTimeout: { code: 421, enhanced: '4.4.2', text: 'Message not received in time, closing connection' },
  dataTooSlow: { code: 421, enhanced: '4.4.2', text: 'Message transfer too slow, closing connection' },
  commandTimeout: { code: 421, enhanced: '4.4.2', text: 'Timeout waiting for a command, closing connection' },
  tooManyClients: { code: 421, enhanced: '4.7.0', text: 'Too many connected clients, try again later' },
} as const satisfies Record<string, EnhancedReply>;
