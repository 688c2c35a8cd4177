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

/** Which instruction header the field starting at `at` is, and where its value starts. */
function instructionAt(raw: Buffer, at: number): { key: InstructionKey; valueAt: number } | undefined {
  if ((raw[at]! | CASE_BIT) !== LOWER_X) return undefined;
  for (const [key, name] of NAMES) {
    let i = 0;
    while (i < name.length && (raw[at + i]! | CASE_BIT) === name[i]) i++;
    if (i < name.length) continue;
    let p = at + i;
    while (raw[p] === SP || raw[p] === HT) p++;
    if (raw[p] === COLON) return { key, valueAt: p + 1 };
  }
  return undefined;
}

/**
 * Removes the instruction headers from `raw` and returns their values (lower-cased), or which
 * header is wrong. Without instruction headers the same buffer is returned, not a copy.
 */
export function takeInstructions(raw: Buffer): TakenInstructions {
  const found: { key: InstructionKey; start: number; valueAt: number; end: number }[] = [];
  let open: (typeof found)[number] | undefined;
  let pos = 0;
  while (pos < raw.length) {
    const lf = raw.indexOf(LF, pos);
    const next = lf < 0 ? raw.length : lf + 1;
    const first = raw[pos];
    if (first === LF || (first === CR && raw[pos + 1] === LF)) break;
    if (first === SP || first === HT) {
      if (open) open.end = next;
    } else {
      const hit = instructionAt(raw, pos);
      open = hit ? { ...hit, start: pos, end: next } : undefined;
      if (open) found.push(open);
    }
    pos = next;
  }
  if (found.length === 0) return { ok: true, body: raw };

  const values: Partial<Record<InstructionKey, string>> = {};
  const kept: Buffer[] = [];
  let from = 0;
  for (const field of found) {
    const header = INSTRUCTION_HEADERS[field.key];
    const text = raw.toString('latin1', field.valueAt, field.end).replace(/\r?\n/g, '').trim();
    const name = trafficName(text);
    if (!name) return { ok: false, header, problem: `invalid ${header} header: ${TRAFFIC_NAME_HINT}` };
    const earlier = values[field.key];
    if (earlier !== undefined && earlier !== name) {
      return { ok: false, header, problem: `conflicting ${header} headers` };
    }
    values[field.key] = name;
    kept.push(raw.subarray(from, field.start));
    from = field.end;
  }
  kept.push(raw.subarray(from));
  return { ok: true, body: Buffer.concat(kept), ...values };
}
