/**
 * A TLS report as a message for a `mailto:` rua (RFC 8460 §5.3): `multipart/report;
 * report-type="tlsrpt"` with a short text part and the gzip JSON as an attachment named
 * `<submitter>!<policy-domain>!<begin>!<end>!<report-id>.json.gz` (begin/end: epoch seconds),
 * headers `TLS-Report-Domain`, `TLS-Report-Submitter` and the Subject
 * `Report Domain: <domain> Submitter: <submitter> Report-ID: <<id>>`. Pure: the caller hands the
 * bytes to Herald's own send() (DKIM, queue, retries as any message).
 */
import { randomBytes } from 'node:crypto';
import { TLSRPT_MEDIA_TYPE } from './report.js';

const BASE64_LINE_CHARS = 76;
const MS_PER_S = 1_000;
const MS_PER_DAY = 86_400_000;
const BOUNDARY_BYTES = 12;

export interface ReportMail {
  from: string;
  to: string;
  /** The submitter's domain name (§5.3: TLS-Report-Submitter). */
  submitter: string;
  organization: string;
  domain: string;
  reportId: string;
  dayStart: number;
  gzip: Buffer;
  now: number;
}

/** The attachment's file name (§5.3). */
export function reportFileName(
  submitter: string,
  domain: string,
  dayStart: number,
  reportId: string,
): string {
  const begin = Math.floor(dayStart / MS_PER_S);
  const end = Math.floor((dayStart + MS_PER_DAY) / MS_PER_S) - 1;
  const id = reportId.replace(/[^A-Za-z0-9._@-]/g, '_');
  return `${submitter}!${domain}!${begin}!${end}!${id}.json.gz`;
}

const folded = (data: Buffer) =>
  (data.toString('base64').match(new RegExp(`.{1,${BASE64_LINE_CHARS}}`, 'g')) ?? []).join('\r\n');

/** The whole RFC 5322 message, CRLF line ends. */
export function reportMessage(mail: ReportMail): Buffer {
  const boundary = `tlsrpt-${randomBytes(BOUNDARY_BYTES).toString('hex')}`;
  const fileName = reportFileName(mail.submitter, mail.domain, mail.dayStart, mail.reportId);
  const day = new Date(mail.dayStart).toISOString().slice(0, 10);
  const lines = [
    `From: ${mail.from}`,
    `To: ${mail.to}`,
    `Subject: Report Domain: ${mail.domain} Submitter: ${mail.submitter} Report-ID: <${mail.reportId}>`,
    `Date: ${new Date(mail.now).toUTCString()}`,
    `Message-ID: <${randomBytes(4).toString('hex')}.${mail.reportId}>`,
    `TLS-Report-Domain: ${mail.domain}`,
    `TLS-Report-Submitter: ${mail.submitter}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    'This is a multi-part message in MIME format.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `This is an aggregate TLS report (RFC 8460) from ${mail.organization} for ${mail.domain}, UTC day ${day}.`,
    '',
    `--${boundary}`,
    `Content-Type: ${TLSRPT_MEDIA_TYPE}`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${fileName}"`,
    '',
    folded(mail.gzip),
    '',
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
