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

/** True when a message kept any DSN parameter (so the job data carries them). */
export function hasDsn(dsn: MessageDsn | undefined): dsn is MessageDsn {
  return Boolean(dsn && (dsn.ret || dsn.envid || (dsn.recipients && Object.keys(dsn.recipients).length > 0)));
}
