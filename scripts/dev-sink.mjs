/**
 * The capture sink `npm start` runs: an SMTP server on loopback that accepts everything and prints
 * one line per message (sender, recipients, subject, size). Stands in for "the Internet" in demos.
 * To try deferrals, bounces, `herald queue retry|flush` and the webhooks they cause, a
 * recipient's local part chooses the reply to its RCPT TO (REPLIES, matched by prefix):
 * `defer+…@` is always 451 4.3.0, `fail+…@` always 550 5.1.1, `later+…@` 451 on its first
 * attempt and accepted from the second on (per address, while the sink runs).
 */
import { SMTPServer } from 'smtp-server';

/** Reply by local-part prefix (case-insensitive); `once`: only the address's first attempt. */
export const REPLIES = [
  { prefix: 'defer+', code: 451, text: '4.3.0 dev sink: deferred (defer+ recipient)' },
  { prefix: 'fail+', code: 550, text: '5.1.1 dev sink: no such user (fail+ recipient)' },
  { prefix: 'later+', code: 451, text: '4.3.0 dev sink: try again later (later+ recipient)', once: true },
];

/** The scripted refusal for `address`, or undefined to accept it; `seen` remembers once-addresses. */
export function replyFor(address, seen) {
  const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
  const rule = REPLIES.find((r) => local.startsWith(r.prefix));
  if (!rule) return undefined;
  if (rule.once) {
    const key = address.toLowerCase();
    if (seen.has(key)) return undefined;
    seen.add(key);
  }
  return rule;
}

export function startDevSink({ host = '127.0.0.1', port = 2526, log }) {
  const seen = new Set();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo(address, _session, callback) {
      const rule = replyFor(address.address, seen);
      if (!rule) return callback();
      log(`sink refused: to=<${address.address}> ${rule.code} ${rule.text}`);
      const err = new Error(rule.text);
      err.responseCode = rule.code;
      return callback(err);
    },
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const head = raw.subarray(0, raw.indexOf('\r\n\r\n') >>> 0).toString('utf8');
        const subject = /^subject:\s*(.*)$/im.exec(head)?.[1] ?? '';
        const to = session.envelope.rcptTo.map((r) => r.address).join(', ');
        log(
          `sink received: from=<${session.envelope.mailFrom?.address ?? ''}> to=<${to}> size=${raw.length} subject="${subject}"`,
        );
        callback(null, 'OK: captured');
      });
    },
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve({
        port: server.server.address().port,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    );
  });
}
