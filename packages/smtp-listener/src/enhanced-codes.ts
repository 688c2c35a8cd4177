/**
 * smtp-server adds a generic enhanced status code (RFC 3463) to every reply when enhanced codes
 * are on, including replies Herald writes itself (it would send "550 5.0.0 5.7.1 Relay access
 * denied"). `useOwnEnhancedCodes(server)` lets a reply text of that server that already starts
 * with an enhanced code keep exactly that code; every other reply keeps smtp-server's contextual
 * code. Per server: the wrapper of SMTPConnection.prototype.send is installed once per process
 * (smtp-server-internals.ts, touchpoint `own-enhanced-codes`) and acts only for the servers
 * registered here, so any other SMTPServer in the process (test sinks, the bench's sink) is
 * untouched. smtp-server's own closing replies get the code that says why (`CLOSING_CODES`):
 * its connection-limit backstop writes none, and its generic 4.4.2 ("network") is wrong for a
 * client closed for its own conduct.
 */
import type { SMTPServer } from 'smtp-server';
import { type ConnectionInternals, connectionPrototype, serverOf } from './smtp-server-internals.js';

const LEADING_ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
/** `send`'s context value that makes smtp-server write no enhanced code of its own. */
const NO_ENHANCED_CODE = false;

/**
 * smtp-server's 421 replies that close a connection for the client's conduct, by their text, with
 * the enhanced code Postfix gives the like: 4.7.0 for limits and abuse, 4.5.2 for a command line
 * over the length limit (a syntax error).
 */
const CLOSING_CODES: readonly { text: RegExp; enhanced: string }[] = [
  { text: /Too many connected clients/, enhanced: '4.7.0' },
  { text: /too many unrecognized commands|too many unauthenticated commands/i, enhanced: '4.7.0' },
  { text: /line too long/i, enhanced: '4.5.2' },
];

const servers = new WeakSet<object>();
let installed = false;

export function useOwnEnhancedCodes(server: SMTPServer): void {
  install();
  servers.add(server);
}

function install(): void {
  if (installed) return;
  const proto = connectionPrototype('own-enhanced-codes');
  installed = true;
  const original = proto.send;
  proto.send = function send(this: ConnectionInternals, code: number, data: unknown, context?: unknown) {
    if (typeof data === 'string' && servers.has(serverOf(this))) {
      if (LEADING_ENHANCED.test(data)) return original.call(this, code, data, NO_ENHANCED_CODE);
      const closing = code === 421 ? CLOSING_CODES.find((c) => c.text.test(data)) : undefined;
      if (closing) return original.call(this, code, `${closing.enhanced} ${data}`, NO_ENHANCED_CODE);
    }
    return original.call(this, code, data, context);
  };
}

/** An error smtp-server turns into the reply "<code> <enhanced> <text>". */
export function smtpError(code: number, enhanced: string, text: string): Error & { responseCode: number } {
  const err = new Error(`${enhanced} ${text}`) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}
