/**
 * Contract test of what Herald uses of nodemailer (pinned exactly): no private member, but two
 * deep entry points documented as nodemailer's "extras" — `nodemailer/lib/mail-composer`
 * (delivery-core's composeMessage, `herald send`) and `nodemailer/lib/smtp-connection`
 * (`herald send`, the bench's load) — which an `exports` map in a later nodemailer could close.
 * It checks the paths still resolve and behave as Herald relies on: MailComposer builds a MIME
 * message with Message-ID and Date; SMTPConnection runs over a socket Herald connected itself
 * (`connection`) and reports `secure` after STARTTLS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectNoDelay } from '@herald/delivery-core/smtp';
import { type SmtpSinkHandle, startSmtpSink } from '@herald/test-harness';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

const CONNECT_TIMEOUT_MS = 5_000;

describe('nodemailer entry points Herald uses', () => {
  let sink: SmtpSinkHandle;
  before(async () => {
    sink = await startSmtpSink({ starttls: true });
  });
  after(() => sink.close());

  it('nodemailer/lib/mail-composer: compile().build() gives a MIME message with Message-ID and Date', async () => {
    const raw = await new MailComposer({
      from: 'a@contract.test',
      to: 'b@contract.test',
      subject: 'contract',
      text: 'plain',
      html: '<p>html</p>',
    })
      .compile()
      .build();
    const text = raw.toString();
    assert.match(text, /^Message-ID: <[^>]+>\r$/m, 'mail-composer: Message-ID header');
    assert.match(text, /^Date: /m, 'mail-composer: Date header');
    assert.match(
      text,
      /^Content-Type: multipart\/alternative;/m,
      'mail-composer: text + html as alternatives',
    );
  });

  it('nodemailer/lib/smtp-connection: runs over our own socket, STARTTLS sets `secure`, sends', async () => {
    const socket = await connectNoDelay({ host: sink.host, port: sink.port, timeoutMs: CONNECT_TIMEOUT_MS });
    const conn = new SMTPConnection({
      connection: socket,
      host: sink.host,
      port: sink.port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    conn.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        conn.once('error', reject);
        conn.connect(() => resolve());
      });
      assert.equal(conn.secure, true, 'smtp-connection: `secure` is true after STARTTLS');
      const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
        conn.send(
          { from: 'a@contract.test', to: ['b@contract.test'] },
          'Subject: x\r\n\r\nbody\r\n',
          (err, i) => (err ? reject(err) : resolve(i)),
        ),
      );
      assert.match(info.response, /^250/, 'smtp-connection: send() resolves with the final reply');
    } finally {
      conn.quit();
    }
  });
});
