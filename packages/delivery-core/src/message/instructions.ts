/**
 * Instruction headers: `X-Herald-Stream` and `X-Herald-Campaign` in a submitted message tell
 * Herald which traffic stream and campaign it belongs to. They are addressed to the MTA, not to
 * recipients, so `takeInstructions` removes every occurrence (with its folded continuation lines)
 * and keeps every other byte of the message as it was. Only the header section is scanned: the
 * walk stops at the first empty line, line by line, and never looks at the body.
 * Names (streams, campaigns, `smtp.users[].stream`): 1-64 characters of A-Z a-z 0-9 _ . -,
 * lower-cased. Several occurrences of one header are accepted when they name the same value.
 */

export const TRAFFIC_NAME_MAX_CHARS = 64;
const TRAFFIC_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const TRAFFIC_NAME_HINT = `expected 1-${TRAFFIC_NAME_MAX_CHARS} characters of A-Z a-z 0-9 _ . -`;

/** The name lower-cased, or undefined when it is not a valid stream or campaign name. */
export function trafficName(value: string): string | undefined {
  return TRAFFIC_NAME.test(value) ? value.toLowerCase() : undefined;
}

export const INSTRUCTION_HEADERS = { stream: 'X-Herald-Stream', campaign: 'X-Herald-Campaign' } as const;
export type InstructionKey = keyof typeof INSTRUCTION_HEADERS;

export type TakenInstructions =
  | { ok: true; body: Buffer; stream?: string; campaign?: string }
  | { ok: false; header: string; problem: string };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const LOWER_X = 0x78;
const CASE_BIT = 0x20;
const NAMES = (Object.entries(INSTRUCTION_HEADERS) as [InstructionKey, string][]).map(
  ([key, name]) => [key, Buffer.from(name.toLowerCase(), 'latin1')] as const,
);

interface Field {
  key: InstructionKey;
  /** Offsets in the message: the field's first byte, its value's, and past its last line. */
  start: number;
  valueAt: number;
  end: number;
}

const LOWER_A = 0x61;
const LOWER_Z = 0x7a;

/** `byte` equals `lower` (a lower-case name character), ignoring ASCII letter case. */
function sameLetter(byte: number, lower: number): boolean {
  return byte === lower || (lower >= LOWER_A && lower <= LOWER_Z && (byte | CASE_BIT) === lower);
}

/** The instruction header field starting at `at` (its end still to be found), if it is one. */
function instructionAt(raw: Buffer, at: number): Field | undefined {
  if ((raw[at]! | CASE_BIT) !== LOWER_X) return undefined;
  for (const [key, name] of NAMES) {
    let i = 0;
    while (i < name.length && sameLetter(raw[at + i]!, name[i]!)) i++;
    if (i < name.length) continue;
    let p = at + i;
    while (raw[p] === SP || raw[p] === HT) p++;
    if (raw[p] === COLON) return { key, start: at, valueAt: p + 1, end: at };
  }
  return undefined;
}

/**
 * Removes the instruction headers from `raw` and returns their values (lower-cased), or which
 * header is wrong. Without instruction headers the same buffer is returned, not a copy.
 */
export function takeInstructions(raw: Buffer): TakenInstructions {
  const found: Field[] = [];
  let open: Field | undefined;
  let pos = 0;
  while (pos < raw.length) {
    const lf = raw.indexOf(LF, pos);
    const next = lf < 0 ? raw.length : lf + 1;
    const first = raw[pos];
    if (first === LF || (first === CR && raw[pos + 1] === LF)) break;
    if (first === SP || first === HT) {
      if (open) open.end = next;
    } else {
      open = instructionAt(raw, pos);
      if (open) {
        open.end = next;
        found.push(open);
      }
    }
    pos = next;
  }
  if (found.length === 0) return { ok: true, body: raw };

  let stream: string | undefined;
  let campaign: string | undefined;
  const kept: Buffer[] = [];
  let from = 0;
  for (const field of found) {
    const header = INSTRUCTION_HEADERS[field.key];
    const name = trafficName(unfold(raw.toString('latin1', field.valueAt, field.end)));
    if (!name) return { ok: false, header, problem: `invalid ${header} header: ${TRAFFIC_NAME_HINT}` };
    const earlier = field.key === 'stream' ? stream : campaign;
    if (earlier !== undefined && earlier !== name) {
      return { ok: false, header, problem: `conflicting ${header} headers` };
    }
    if (field.key === 'stream') stream = name;
    else campaign = name;
    kept.push(raw.subarray(from, field.start));
    from = field.end;
  }
  kept.push(raw.subarray(from));
  const result: TakenInstructions = { ok: true, body: Buffer.concat(kept) };
  if (stream !== undefined) result.stream = stream;
  if (campaign !== undefined) result.campaign = campaign;
  return result;
}

/** A field value without its line breaks and surrounding white space. */
function unfold(value: string): string {
  return value.replace(/\r?\n/g, '').trim();
}
