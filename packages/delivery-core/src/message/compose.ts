/**
 * Builds a raw RFC 5322 message from fields (library `send({ from, to, subject, text })`) with
 * nodemailer's MailComposer: MIME structure, encodings, Message-ID and Date.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

export interface MessageFields {
  from: string;
  to: string | string[];
  cc?: string | string[];
  replyTo?: string;
  subject?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  messageId?: string;
}

export function composeMessage(fields: MessageFields): Promise<Buffer> {
  const composer = new MailComposer({ ...fields });
  return new Promise((resolve, reject) => {
    composer.compile().build((err, message) => (err ? reject(err) : resolve(message)));
  });
}
