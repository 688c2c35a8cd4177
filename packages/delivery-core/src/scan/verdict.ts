/**
 * What a scan's score means for a tenant (pure): the highest action whose threshold the score
 * reaches — reject, quarantine, add_header — else accept; and the headers `add_header` writes.
 */
import type { ScanActions } from '../config/index.js';

export type ScanAction = 'accept' | 'add_header' | 'quarantine' | 'reject';

export function actionForScore(score: number, actions: ScanActions): ScanAction {
  if (actions.reject !== undefined && score >= actions.reject) return 'reject';
  if (actions.quarantine !== undefined && score >= actions.quarantine) return 'quarantine';
  if (actions.add_header !== undefined && score >= actions.add_header) return 'add_header';
  return 'accept';
}

/** Score with two decimals, as rspamd prints it. */
export const formatScore = (score: number): string => score.toFixed(2);

/**
 * `X-Spam: Yes`, `X-Spam-Score: <score>` and `X-Spam-Symbols: <names>` on top of the message (before
 * DKIM signing, so they are signed). Symbol names are rspamd's (A-Z, 0-9, _), nothing to escape.
 */
export function spamHeaders(score: number, symbols: readonly string[]): Buffer {
  const lines = ['X-Spam: Yes', `X-Spam-Score: ${formatScore(score)}`];
  const names = symbols.filter((s) => /^[A-Za-z0-9_.-]+$/.test(s));
  if (names.length) lines.push(`X-Spam-Symbols: ${names.join(', ')}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}
