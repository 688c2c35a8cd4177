/**
 * RFC 3464 delivery-status fields: the per-message group (Reporting-MTA, ...) and one group per
 * recipient (Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code, ...). Accepts the
 * sloppy variants real MTAs write: groups not separated by blank lines, fields folded with or
 * without indentation, `rfc822;addr` without a space, upper or lower case names.
 */

export interface DsnRecipient {
  address: string;
  action?: string;
  status?: string;
  diagnosticType?: string;
  diagnostic?: string;
  remoteMta?: string;
}

export interface DsnReport {
  reportingMta?: string;
  recipients: DsnRecipient[];
}

const FIELD_RE = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/;
const RECIPIENT_FIELDS = new Set(['final-recipient', 'original-recipient', 'x-actual-recipient']);

function typedValue(value: string): { type?: string; value: string } {
  const semi = value.indexOf(';');
  if (semi < 0 || semi > 20) return { value: value.trim() };
  return { type: value.slice(0, semi).trim(), value: value.slice(semi + 1).trim() };
}

export function cleanAddress(value: string): string {
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(value);
  const bare = angle?.[1] ?? /[^\s<>"'();,:]+@[^\s<>"'();,]+/.exec(value)?.[0] ?? value.trim();
  return bare.replace(/^["'<]+|["'>.,;:]+$/g, '').toLowerCase();
}

/** Parses the text of a message/delivery-status part (or DSN-like text inside a notice). */
export function parseDeliveryStatus(text: string): DsnReport {
  const report: DsnReport = { recipients: [] };
  let current: DsnRecipient | undefined;
  let lastField: { name: string; target: Omit<DsnRecipient, 'address'> | undefined } | undefined;
  let originalRecipient: string | undefined;
  // Per-recipient fields written before the group's Final-Recipient (Facebook does this).
  let early: Omit<DsnRecipient, 'address'> = {};
  const finish = (): void => {
    if (current?.address) report.recipients.push(current);
    current = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    const field = FIELD_RE.exec(line);
    if (!field) {
      if (line.trim() === '') {
        lastField = undefined;
        early = {};
        continue;
      }
      if (lastField?.name === 'diagnostic-code' && lastField.target) {
        lastField.target.diagnostic = `${lastField.target.diagnostic ?? ''} ${line.trim()}`.trim();
      }
      continue;
    }
    const name = (field[1] ?? '').toLowerCase();
    const raw = field[2] ?? '';
    if (RECIPIENT_FIELDS.has(name)) {
      const address = cleanAddress(typedValue(raw).value);
      if (name === 'original-recipient') {
        if (current?.address === address) continue;
        if (current?.address && !current.action) continue;
        if (current?.address && current.action) finish();
        originalRecipient = address;
        continue;
      }
      if (name === 'x-actual-recipient' && current) continue;
      if (current?.address) finish();
      current = { ...early, address: address || originalRecipient || '' };
      early = {};
      originalRecipient = undefined;
      lastField = { name, target: current };
      continue;
    }
    const target: Omit<DsnRecipient, 'address'> = current ?? early;
    lastField = { name, target };
    switch (name) {
      case 'reporting-mta':
        report.reportingMta = typedValue(raw).value;
        break;
      case 'action':
        if (target) target.action = raw.trim().toLowerCase().split(/\s/)[0];
        break;
      case 'status': {
        const status = /[245]\.\d{1,3}\.\d{1,3}/.exec(raw)?.[0];
        if (target && status) target.status = status;
        break;
      }
      case 'remote-mta':
        if (target) target.remoteMta = typedValue(raw).value;
        break;
      case 'diagnostic-code': {
        if (!target) break;
        const typed = typedValue(raw);
        if (typed.type) target.diagnosticType = typed.type.toUpperCase();
        target.diagnostic = typed.value;
        break;
      }
      default:
        break;
    }
  }
  finish();
  if (report.recipients.length === 0 && originalRecipient)
    report.recipients.push({ address: originalRecipient });
  return report;
}
