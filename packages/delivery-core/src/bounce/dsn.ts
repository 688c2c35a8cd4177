/**
 * RFC 3464 delivery-status fields: the per-message group (Reporting-MTA, ...) and one group per
 * recipient (Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code, ...). Accepts the
 * sloppy variants real MTAs write: groups not separated by blank lines, fields folded with or
 * without indentation, `rfc822;addr` without a space, upper or lower case names. One pass over
 * the lines; a diagnostic keeps at most MAX_DIAGNOSTIC_CHARS and at most MAX_REPORT_RECIPIENTS
 * recipients are read.
 */

import { splitLines } from '../util/index.js';
import {
  MAX_ADDRESS_CHARS,
  MAX_DIAGNOSTIC_CHARS,
  MAX_FIELD_CHARS,
  MAX_REPORT_RECIPIENTS,
  MAX_TEXT_LINES,
} from './limits.js';

export interface DsnRecipient {
  address: string;
  action?: string;
  status?: string;
  diagnosticType?: string;
  diagnostic?: string;
  remoteMta?: string;
  /** The words after a Status code: `Status: 5.2.1 (mailbox disabled, not accepting messages)`. */
  statusComment?: string;
  /** A vendor's own bounce category field (`X-PowerMTA-BounceCategory: bad-mailbox`). */
  category?: string;
}

/** Vendor fields in a delivery-status group that name a bounce category (see VENDOR_CATEGORY_REASONS). */
const CATEGORY_FIELDS = new Set(['x-powermta-bouncecategory']);

export interface DsnReport {
  reportingMta?: string;
  recipients: DsnRecipient[];
}

/** A field name and its colon; the value is the rest of the line. */
const FIELD_NAME_RE = /^([A-Za-z][A-Za-z0-9-]*):/;
/** A value that runs past one of these is not a field (the line was not split where it should be). */
const LINE_BREAK_RE = /[\r\u2028\u2029]/;

/** The field of one line: its lower-cased name and trimmed value (at most MAX_DIAGNOSTIC_CHARS). */
function fieldOf(line: string): { name: string; value: string } | undefined {
  const match = FIELD_NAME_RE.exec(line);
  if (!match) return undefined;
  const value = line.slice(match[0].length, match[0].length + MAX_DIAGNOSTIC_CHARS).trim();
  if (LINE_BREAK_RE.test(value)) return undefined;
  return { name: (match[1] ?? '').toLowerCase(), value };
}
const RECIPIENT_FIELDS = new Set(['final-recipient', 'original-recipient', 'x-actual-recipient']);

function typedValue(value: string): { type?: string; value: string } {
  const semi = value.indexOf(';');
  if (semi < 0 || semi > 20) return { value: value.trim() };
  return { type: value.slice(0, semi).trim(), value: value.slice(semi + 1).trim() };
}

/** `<...>` groups: the inner run stops at the next bracket or space, so each is read once. */
const BRACKETED_RE = /<([^<>\s]+)>/g;
/** A bare address; the look-behind starts it only at the first character of a run. */
const BARE_ADDRESS_RE = /(?<![^\s<>"'();,:])[^\s<>"'();,:]+@[^\s<>"'();,]+/;

/** The first `<local@domain>` in `value`: an `@` with something on both sides. */
function bracketedAddress(value: string): string | undefined {
  for (const [, inner = ''] of value.matchAll(BRACKETED_RE)) {
    const at = inner.indexOf('@', 1);
    if (at > 0 && at < inner.length - 1) return inner;
  }
  return undefined;
}

/** `value` without leading `lead` and trailing `trail` characters. */
function trimChars(value: string, lead: string, trail: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && lead.includes(value[start]!)) start++;
  while (end > start && trail.includes(value[end - 1]!)) end--;
  return value.slice(start, end);
}

/**
 * The address in a field value (`rfc822; <a@b>`, `"a@b"`, `a@b.`), lower-cased; '' when it is
 * longer than any address can be (MAX_ADDRESS_CHARS).
 */
export function cleanAddress(value: string): string {
  const bare = bracketedAddress(value) ?? BARE_ADDRESS_RE.exec(value)?.[0] ?? value.trim();
  const address = trimChars(bare, `"'<`, `"'>.,;:`);
  return address.length > MAX_ADDRESS_CHARS ? '' : address.toLowerCase();
}

/** Parses the text of a message/delivery-status part (or DSN-like text inside a notice). */
export function parseDeliveryStatus(text: string): DsnReport {
  const report: DsnReport = { recipients: [] };
  let current: DsnRecipient | undefined;
  let lastField: { name: string; target: Omit<DsnRecipient, 'address'> | undefined } | undefined;
  let originalRecipient: string | undefined;
  // Per-recipient fields written before the group's Final-Recipient (Facebook does this).
  let early: Omit<DsnRecipient, 'address'> = {};
  // Continuation lines of a Diagnostic-Code, joined once when the next field starts.
  const continued = new DiagnosticLines();
  const finish = (): void => {
    continued.close();
    if (current?.address && report.recipients.length < MAX_REPORT_RECIPIENTS) report.recipients.push(current);
    current = undefined;
  };
  for (const line of splitLines(text, MAX_TEXT_LINES)) {
    const field = fieldOf(line);
    if (!field) {
      if (line.trim() === '') {
        continued.close();
        lastField = undefined;
        early = {};
        continue;
      }
      if (lastField?.name === 'diagnostic-code' && lastField.target) continued.add(lastField.target, line);
      continue;
    }
    continued.close();
    const { name, value: raw } = field;
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
        report.reportingMta = typedValue(raw).value.slice(0, MAX_FIELD_CHARS);
        break;
      case 'action':
        if (target) target.action = raw.slice(0, MAX_FIELD_CHARS).toLowerCase().split(/\s/)[0];
        break;
      case 'status': {
        const found = /[245]\.\d{1,3}\.\d{1,3}/.exec(raw);
        if (target && found) {
          target.status = found[0];
          const comment = raw.slice(found.index + found[0].length).replace(/^[\s(]+|[\s)]+$/g, '');
          if (comment) target.statusComment = comment.slice(0, MAX_FIELD_CHARS);
        }
        break;
      }
      case 'remote-mta':
        if (target) target.remoteMta = typedValue(raw).value.slice(0, MAX_FIELD_CHARS);
        break;
      case 'diagnostic-code': {
        if (!target) break;
        const typed = typedValue(raw);
        if (typed.type) target.diagnosticType = typed.type.toUpperCase();
        target.diagnostic = typed.value.slice(0, MAX_DIAGNOSTIC_CHARS);
        break;
      }
      default:
        if (CATEGORY_FIELDS.has(name) && target)
          target.category = raw.slice(0, MAX_FIELD_CHARS).toLowerCase();
        break;
    }
  }
  finish();
  if (report.recipients.length === 0 && originalRecipient)
    report.recipients.push({ address: originalRecipient });
  return report;
}

/**
 * The folded lines of one Diagnostic-Code: collected, then joined with single spaces when the
 * field ends, up to MAX_DIAGNOSTIC_CHARS (joining once keeps long folded diagnostics linear).
 */
class DiagnosticLines {
  private target: Omit<DsnRecipient, 'address'> | undefined;
  private parts: string[] = [];
  private chars = 0;

  add(target: Omit<DsnRecipient, 'address'>, line: string): void {
    if (this.target !== target) {
      this.close();
      this.target = target;
      const first = target.diagnostic ?? '';
      this.parts = first ? [first] : [];
      this.chars = first.length;
    }
    if (this.chars >= MAX_DIAGNOSTIC_CHARS) return;
    const piece = line.trim();
    this.parts.push(piece);
    this.chars += piece.length + 1;
  }

  close(): void {
    if (!this.target) return;
    this.target.diagnostic = this.parts.join(' ').trim().slice(0, MAX_DIAGNOSTIC_CHARS);
    this.target = undefined;
    this.parts = [];
    this.chars = 0;
  }
}
