/**
 * The capture sink `npm start` runs: an SMTP server on loopback that accepts everything and prints
 * one line per message (sender, recipients, subject, size). Stands in for "the Internet" in demos.
 */
import { SMTPServer } from 'smtp-server';

export function startDevSink({ host = '127.0.0.1', port = 2526, log }) {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
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
    server.listen(port, host, () => resolve({ close: () => new Promise((r) => server.close(() => r())) }));
  });
}
