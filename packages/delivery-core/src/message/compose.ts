/**
 * Builds a raw RFC 5322 message from fields (library `send({ from, to, subject, text })`) with
 * nodemailer's MailComposer: MIME structure, encodings, attachments, Message-ID and Date. `bcc`
 * never becomes a header: it is for the envelope only (the caller's business).
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

export interface MessageAttachment {
  filename: string;
  content: Buffer;
  /** Default: guessed from the filename. */
  contentType?: string;
}

export interface MessageFields {
  from: string;
  to: string | string[];
  cc?: string | string[];
  /** Envelope recipients only: never written into the message. */
  bcc?: string | string[];
  replyTo?: string;
  subject?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  messageId?: string;
  attachments?: MessageAttachment[];
}

export function composeMessage(fields: MessageFields): Promise<Buffer> {
  const { bcc: _envelopeOnly, attachments, ...headerFields } = fields;
  const composer = new MailComposer({
    ...headerFields,
    ...(attachments
      ? {
          attachments: attachments.map((a) => ({
            filename: a.filename,
            content: a.content,
            ...(a.contentType ? { contentType: a.contentType } : {}),
          })),
        }
      : {}),
  });
  return new Promise((resolve, reject) => {
    composer.compile().build((err, message) => (err ? reject(err) : resolve(message)));
  });
}
