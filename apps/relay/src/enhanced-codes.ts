/**
 * smtp-server adds a generic enhanced status code (RFC 3463) to every reply when enhanced codes
 * are on, including replies Herald writes itself (it would send "550 5.0.0 5.7.1 Relay access
 * denied"). This patch lets a reply text that already starts with an enhanced code keep exactly
 * that code; every other reply keeps smtp-server's contextual code. Applied once per process.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const LEADING_ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
let applied = false;

export function useOwnEnhancedCodes(): void {
  if (applied) return;
  applied = true;
  const proto = SMTPConnection.prototype as unknown as {
    send(code: number, data: unknown, context?: unknown): void;
  };
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data: unknown, context?: unknown) {
    if (typeof data === 'string' && LEADING_ENHANCED.test(data))
      return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
}

/** An error smtp-server turns into the reply "<code> <enhanced> <text>". */
export function smtpError(code: number, enhanced: string, text: string): Error & { responseCode: number } {
  const err = new Error(`${enhanced} ${text}`) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}
