/**
 * Message bytes in the e2e tests: test bodies and taking apart what the relay added on top.
 * Owns: nothing at run time; pure functions over Buffers.
 * Guarantees: stripLeadingFields removes exactly the named header fields (with their folded
 * continuation lines) from the top, in order, and fails loudly if the top looks different.
 */

const CRLF = '\r\n';

/** A message with a dot-stuffing line, a folded header, UTF-8 and CRLF line ends throughout. */
export function sampleMessage(opts: { subject: string; headers?: string[]; lines?: string[] }): Buffer {
  const headers = [
    'From: Sender <sender@origin.test>',
    'To: someone@example.test',
    `Subject: ${opts.subject}`,
    'X-Folded: first part',
    '\tsecond part',
    ...(opts.headers ?? []),
  ];
  const lines = opts.lines ?? [
    'Hello,',
    '.a line that starts with a dot',
    '..two dots',
    'Grüße — ünïcödé',
    '',
    'Bye.',
  ];
  return Buffer.from(`${headers.join(CRLF)}${CRLF}${CRLF}${lines.join(CRLF)}${CRLF}`, 'utf8');
}

export interface Stripped {
  /** The removed fields, each with its continuation lines, without the final CRLF. */
  fields: string[];
  rest: Buffer;
}

/** Removes the header fields `names` (case-insensitive) from the top of `raw`, in that order. */
export function stripLeadingFields(raw: Buffer, names: string[]): Stripped {
  const fields: string[] = [];
  let offset = 0;
  for (const name of names) {
    let end = raw.indexOf(CRLF, offset);
    // A field runs until a line that does not start with space or tab.
    while (end >= 0 && (raw[end + 2] === 0x20 || raw[end + 2] === 0x09)) end = raw.indexOf(CRLF, end + 2);
    if (end < 0) throw new Error(`no complete ${name} field at offset ${offset}`);
    const field = raw.subarray(offset, end).toString('utf8');
    if (!field.toLowerCase().startsWith(`${name.toLowerCase()}:`)) {
      throw new Error(`expected a ${name} field at offset ${offset}, found ${JSON.stringify(field)}`);
    }
    fields.push(field);
    offset = end + CRLF.length;
  }
  return { fields, rest: raw.subarray(offset) };
}

/** The header field `name` of `raw` (unfolded), or undefined. */
export function headerValue(raw: Buffer, name: string): string | undefined {
  const head = raw.subarray(0, raw.indexOf(`${CRLF}${CRLF}`)).toString('utf8');
  const match = new RegExp(`^${name}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(head);
  return match?.[1]?.replace(/\r\n[ \t]+/g, ' ').trim();
}
