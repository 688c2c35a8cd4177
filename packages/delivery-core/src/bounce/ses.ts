/**
 * Amazon SES event notifications (JSON, sent by mail or wrapped in an SNS envelope): Bounce,
 * Complaint and Delivery. Read into the same shapes as a DSN recipient or an ARF report, so the
 * decision table classifies them like any other bounce. At most MAX_REPORT_RECIPIENTS recipients
 * are read.
 */
import type { DsnRecipient } from './dsn.js';
import type { FeedbackReport } from './feedback.js';
import { MAX_ADDRESS_CHARS, MAX_DIAGNOSTIC_CHARS, MAX_FIELD_CHARS, MAX_REPORT_RECIPIENTS } from './limits.js';

export type SesNotification =
  | { kind: 'bounce'; recipients: DsnRecipient[]; reportingMta?: string }
  | { kind: 'delivery'; recipients: DsnRecipient[] }
  | { kind: 'complaint'; feedback: FeedbackReport };

type Json = Record<string, unknown>;

function object(value: unknown): Json | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A short field (action, status, MTA name, feedback type), at most MAX_FIELD_CHARS. */
function field(value: unknown): string | undefined {
  return text(value)?.slice(0, MAX_FIELD_CHARS);
}

const STATUS_RE = /[245]\.\d{1,3}\.\d{1,3}/;

function list(value: unknown): Json[] {
  if (!Array.isArray(value)) return [];
  return value
    .slice(0, MAX_REPORT_RECIPIENTS)
    .map(object)
    .filter((v): v is Json => v !== undefined);
}

/** An address as SES writes it, lower-cased; '' when it is too long to be one. */
function address(value: unknown): string {
  const given = text(value) ?? '';
  return given.length > MAX_ADDRESS_CHARS ? '' : given.toLowerCase();
}

function parseJson(raw: string): Json | undefined {
  // Mail transport folds long lines; JSON has no line breaks inside its strings.
  const body = raw.replace(/\r?\n[ \t]?/g, '');
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  try {
    return object(JSON.parse(body.slice(start, end + 1)));
  } catch {
    return undefined;
  }
}

/** The SES notification in a message body, or undefined when the body is not one. */
export function parseSesNotification(body: string): SesNotification | undefined {
  if (!body.includes('notificationType')) return undefined;
  let json = parseJson(body);
  const wrapped = text(json?.['Message']);
  if (wrapped) json = parseJson(wrapped);
  if (!json) return undefined;
  switch (text(json['notificationType'])) {
    case 'Bounce': {
      const bounce = object(json['bounce']) ?? {};
      const recipients = list(bounce['bouncedRecipients']).map((r) => {
        const recipient: DsnRecipient = { address: address(r['emailAddress']) };
        const action = field(r['action']);
        const status = STATUS_RE.exec(field(r['status']) ?? '')?.[0];
        const diagnostic = text(r['diagnosticCode'])?.slice(0, MAX_DIAGNOSTIC_CHARS);
        if (action) recipient.action = action.toLowerCase();
        if (status) recipient.status = status;
        if (diagnostic) {
          const semi = diagnostic.indexOf(';');
          if (semi > 0 && semi < 20)
            recipient.diagnosticType = diagnostic.slice(0, semi).trim().toUpperCase();
          recipient.diagnostic = semi > 0 && semi < 20 ? diagnostic.slice(semi + 1).trim() : diagnostic;
        }
        return recipient;
      });
      const reportingMta = field(bounce['reportingMTA'])?.replace(/^dsn;\s*/i, '');
      return { kind: 'bounce', recipients, ...(reportingMta ? { reportingMta } : {}) };
    }
    case 'Delivery': {
      const delivery = object(json['delivery']) ?? {};
      const response = (text(delivery['smtpResponse']) ?? '').slice(0, MAX_DIAGNOSTIC_CHARS);
      const addresses = Array.isArray(delivery['recipients'])
        ? delivery['recipients'].slice(0, MAX_REPORT_RECIPIENTS)
        : [];
      const recipients = addresses
        .map(address)
        .filter((a) => a !== '')
        .map((recipient) => ({ address: recipient, action: 'delivered', diagnostic: response }));
      return { kind: 'delivery', recipients };
    }
    case 'Complaint': {
      const complaint = object(json['complaint']) ?? {};
      const recipients = list(complaint['complainedRecipients'])
        .map((r) => address(r['emailAddress']))
        .filter((a) => a !== '');
      const type = field(complaint['complaintFeedbackType'])?.toLowerCase();
      return { kind: 'complaint', feedback: { recipients, text: body, ...(type ? { type } : {}) } };
    }
    default:
      return undefined;
  }
}
