/**
 * One-click unsubscribe for bulk streams (RFC 2369 List-Unsubscribe, RFC 8058
 * List-Unsubscribe-Post), as Gmail's and Yahoo's 2024 bulk-sender rules require: when the tenant's
 * `list_unsubscribe` covers the message's stream and the message has no List-Unsubscribe of its
 * own, Herald adds `List-Unsubscribe: <https://...>, <mailto:...>` and, with an https URL,
 * `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. `{recipient}` in the URL is filled (URL
 * encoded) when the message has one recipient, `{message_id}` always. The headers go on top, so
 * DKIM signing (after this) covers them. The rest of the message is kept byte for byte. Pure.
 */
import { hasHeader } from '../message/index.js';
import { prepend } from '../util/index.js';

export interface ListUnsubscribePolicy {
  readonly mailto?: string | undefined;
  readonly https?: string | undefined;
  readonly streams: readonly string[];
}

export function addListUnsubscribe(
  raw: Buffer,
  policy: ListUnsubscribePolicy | undefined,
  message: { stream: string; recipients: readonly string[]; messageId: string },
): Buffer {
  if (!policy?.streams.includes(message.stream)) return raw;
  if (!policy.https && !policy.mailto) return raw;
  if (hasHeader(raw, 'list-unsubscribe')) return raw;
  const eol = raw.indexOf('\r\n') >= 0 || raw.length === 0 ? '\r\n' : '\n';
  const targets: string[] = [];
  if (policy.https) {
    const one = message.recipients.length === 1 ? message.recipients[0]! : '';
    targets.push(
      `<${policy.https
        .replaceAll('{recipient}', encodeURIComponent(one))
        .replaceAll('{message_id}', encodeURIComponent(message.messageId))}>`,
    );
  }
  if (policy.mailto) targets.push(`<mailto:${policy.mailto}?subject=unsubscribe>`);
  const lines = [`List-Unsubscribe: ${targets.join(', ')}`];
  if (policy.https) lines.push('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
  return prepend(Buffer.from(lines.join(eol) + eol), raw);
}
