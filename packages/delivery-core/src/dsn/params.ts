/**
 * The RFC 3461 parameters a submission gives (SMTP's NOTIFY / ORCPT on RCPT, RET / ENVID on MAIL;
 * the HTTP API's `dsn` object), checked once at intake and kept with the message, and the rules
 * that read them back: which report a recipient asked for. Values are kept decoded (xtext undone
 * by the SMTP server); the outbound client encodes them again. Pure.
 */

export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';
export type DsnRet = 'FULL' | 'HDRS';
/** The report kinds a recipient can ask for (NOTIFY's values other than NEVER). */
export type DsnReportKind = 'success' | 'failure' | 'delay';

/** Per recipient: NOTIFY (absent: not given, RFC 3461's default) and ORCPT ("rfc822;addr"). */
export interface RecipientDsn {
  notify?: DsnNotify[];
  orcpt?: string;
}

/** Per message: RET and ENVID, and each recipient's parameters keyed by lower-cased address. */
export interface MessageDsn {
  ret?: DsnRet;
  envid?: string;
  recipients?: Record<string, RecipientDsn>;
}

/** RFC 3461 §4.4: ENVID is at most 100 characters. */
export const ENVID_MAX_CHARS = 100;
/** RFC 3461 §4.2: ORCPT is at most 500 characters. */
export const ORCPT_MAX_CHARS = 500;

const NOTIFY_VALUES: readonly DsnNotify[] = ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'];
/** Printable US-ASCII (RFC 3461 §4: xtext decodes to characters 33–126, and space is excluded). */
const PRINTABLE = /^[\x21-\x7e]+$/;
/** addr-type ";" address: an atom, then the address (printable, spaces allowed inside quotes). */
const ORCPT = /^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+);([\x20-\x7e]+)$/;

/** NOTIFY's values, upper-cased, or why they are wrong (NEVER is exclusive; no repeats). */
export function parseNotify(value: string | readonly string[]): DsnNotify[] | string {
  const list = (typeof value === 'string' ? value.split(',') : [...value]).map((v) => v.trim().toUpperCase());
  if (list.length === 0 || list.some((v) => !NOTIFY_VALUES.includes(v as DsnNotify)))
    return 'NOTIFY must be NEVER, or a list of SUCCESS, FAILURE and DELAY';
  if (list.includes('NEVER') && list.length > 1) return 'NOTIFY=NEVER cannot be combined with other values';
  if (new Set(list).size !== list.length) return 'NOTIFY lists a value twice';
  return list as DsnNotify[];
}

/** RET's value, upper-cased, or why it is wrong. */
export function parseRet(value: string): DsnRet | string {
  const ret = value.trim().toUpperCase();
  return ret === 'FULL' || ret === 'HDRS' ? ret : 'RET must be FULL or HDRS';
}

/** Why an ENVID is refused, or undefined: printable ASCII, at most ENVID_MAX_CHARS. */
export function envidProblem(value: string): string | undefined {
  if (value.length > ENVID_MAX_CHARS) return `ENVID is longer than ${ENVID_MAX_CHARS} characters`;
  if (!PRINTABLE.test(value)) return 'ENVID must be printable US-ASCII without spaces';
  return undefined;
}

/** ORCPT normalised ("rfc822;addr", addr-type lower-cased), or why it is refused. */
export function parseOrcpt(value: string): { orcpt: string } | { problem: string } {
  if (value.length > ORCPT_MAX_CHARS)
    return { problem: `ORCPT is longer than ${ORCPT_MAX_CHARS} characters` };
  const m = ORCPT.exec(value);
  if (!m) return { problem: 'ORCPT must be addr-type;address (e.g. rfc822;user@example.com)' };
  return { orcpt: `${m[1]!.toLowerCase()};${m[2]}` };
}

/**
 * Whether a recipient gets a report of this kind. Without NOTIFY: failures only (RFC 3461 §4.1:
 * "FAILURE" or "FAILURE,DELAY" at the MTA's choice; Herald's default sends delay warnings too,
 * as Postfix does, when `delivery.delay_warning` is set). NEVER: none.
 */
export function wantsReport(notify: readonly DsnNotify[] | undefined, kind: DsnReportKind): boolean {
  if (!notify) return kind !== 'success';
  return notify.includes(kind.toUpperCase() as DsnNotify);
}

/** RFC 3461 §4 xtext: xchar (33–126 except "+" and "=") or "+" and two upper-case hex digits. */
const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})+$/;
/** RFC 6533 §3 utf-8-addr-xtext / unitext: printable ASCII or UTF-8, no controls or space. */
const UTF8_ADDR_TEXT = /^[^\x00-\x20\x7f]+$/u;
/** addr-type: an atom (RFC 5322). */
const ADDR_TYPE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
/** A MAIL FROM / RCPT TO command: verb, the <path> (quoted local parts may hold ">"), parameters. */
const PATH_COMMAND = /^(MAIL\s+FROM|RCPT\s+TO)\s*:\s*(?:<(?:"(?:[^"\\]|\\.)*"|[^>"])*>|\S*)(.*)$/is;

function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Why an ENVID as it came on the wire (xtext) is refused, or undefined. */
function wireEnvidProblem(value: string): string | undefined {
  if (value.length > ENVID_MAX_CHARS) return `ENVID is longer than ${ENVID_MAX_CHARS} characters`;
  if (!XTEXT.test(value)) return 'ENVID must be xtext (RFC 3461 §4: printable ASCII, "+" and "=" as +XX)';
  return envidProblem(decodeXtext(value));
}

/** Why an ORCPT as it came on the wire (addr-type;xtext) is refused, or undefined. */
function wireOrcptProblem(value: string): string | undefined {
  if (value.length > ORCPT_MAX_CHARS) return `ORCPT is longer than ${ORCPT_MAX_CHARS} characters`;
  const at = value.indexOf(';');
  const type = value.slice(0, Math.max(at, 0));
  const text = value.slice(at + 1);
  if (at < 1 || !ADDR_TYPE.test(type) || text === '')
    return 'ORCPT must be addr-type;xtext (e.g. rfc822;user@example.com)';
  if (type.toLowerCase() === 'utf-8')
    return UTF8_ADDR_TEXT.test(text) ? undefined : 'ORCPT has a control character';
  if (!XTEXT.test(text))
    return 'ORCPT must be addr-type;xtext (RFC 3461 §4: printable ASCII, "+" and "=" as +XX)';
  const parsed = parseOrcpt(`${type};${decodeXtext(text)}`);
  return 'problem' in parsed ? parsed.problem : undefined;
}

/**
 * Why a MAIL FROM or RCPT TO command line's ENVID or ORCPT is refused, as the client wrote it
 * (before the SMTP server decodes xtext and loses what was malformed), or undefined: ENVID and
 * ORCPT must be valid xtext (RFC 3461 §4), ENVID at most ENVID_MAX_CHARS, ORCPT at most
 * ORCPT_MAX_CHARS, and what they decode to must pass `envidProblem` / `parseOrcpt`.
 */
export function dsnParamProblem(line: string): string | undefined {
  const m = PATH_COMMAND.exec(line.replace(/\r?\n$/, ''));
  if (!m) return undefined;
  const mail = m[1]!.toUpperCase().startsWith('MAIL');
  for (const param of m[2]!.trim().split(/\s+/)) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    const key = param.slice(0, eq).toUpperCase();
    const value = param.slice(eq + 1);
    if (mail && key === 'ENVID') {
      const problem = wireEnvidProblem(value);
      if (problem) return problem;
    } else if (!mail && key === 'ORCPT') {
      const problem = wireOrcptProblem(value);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** A control character (C0 but HTAB, or DEL): never part of an esmtp-keyword or esmtp-value. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Why the parameter part of a MAIL FROM or RCPT TO command line is not parameters at all (RFC
 * 5321 §4.1.2: esmtp-keyword and esmtp-value are printable; `501` syntax error in parameters), or
 * undefined: a control character there (a NUL, an ESC, a bare CR), named by its code. HTAB is
 * taken as the space between parameters, as before.
 */
export function pathParamSyntaxProblem(line: string): string | undefined {
  const m = PATH_COMMAND.exec(line.replace(/\r?\n$/, ''));
  const control = m ? CONTROL.exec(m[2]!) : null;
  if (!control) return undefined;
  const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
  return `Syntax error in parameters: control character 0x${code}`;
}

/** The MAIL FROM / RCPT TO parameters the relay offers (EHLO: SIZE, 8BITMIME, SMTPUTF8, DSN, AUTH). */
const MAIL_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID', 'AUTH']);
const RCPT_PARAMS = new Set(['NOTIFY', 'ORCPT']);

/**
 * The first parameter of a MAIL FROM or RCPT TO command line that no announced extension
 * defines (RFC 5321 §4.1.1.11: `555`), shown printable and at most 40 characters, or undefined.
 */
export function unknownPathParam(line: string): string | undefined {
  const m = PATH_COMMAND.exec(line.replace(/\r?\n$/, ''));
  if (!m) return undefined;
  const known = m[1]!.toUpperCase().startsWith('MAIL') ? MAIL_PARAMS : RCPT_PARAMS;
  for (const param of m[2]!.trim().split(/\s+/)) {
    if (param === '') continue;
    const eq = param.indexOf('=');
    const key = (eq < 0 ? param : param.slice(0, eq)).toUpperCase();
    if (!known.has(key)) return key.replace(/[^\x21-\x7e]/g, '?').slice(0, 40);
  }
  return undefined;
}

/** True when a message kept any DSN parameter (so the job data carries them). */
export function hasDsn(dsn: MessageDsn | undefined): dsn is MessageDsn {
  return Boolean(dsn && (dsn.ret || dsn.envid || (dsn.recipients && Object.keys(dsn.recipients).length > 0)));
}
