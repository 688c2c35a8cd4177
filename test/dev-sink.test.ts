/**
 * The capture sink `npm start` runs answers by the recipient's local part, so a new user can
 * watch a deferral, a bounce and a retry: `defer+` is always 451, `fail+` always 550, `later+` 451
 * once then accepted; any other recipient is captured. A real SMTP client (nodemailer) on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { startDevSink } from '../scripts/dev-sink.mjs';

describe('the dev sink', () => {
  let sink: { port: number; close(): Promise<void> };
  const lines: string[] = [];
  before(async () => {
    sink = await startDevSink({ host: '127.0.0.1', port: 0, log: (line) => lines.push(line) });
  });
  after(() => sink.close());

  const send = (to: string[]) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true })
      .sendMail({ from: 'app@shop.test', to, subject: 'hi', text: 'hello' })
      .then(
        (info) => ({ accepted: info.accepted.map(String), rejected: info.rejected.map(String), codes: [] }),
        (err: { rejected?: string[]; rejectedErrors?: { responseCode: number }[] }) => ({
          accepted: [] as string[],
          rejected: err.rejected ?? [],
          codes: (err.rejectedErrors ?? []).map((e) => e.responseCode),
        }),
      );

  test('defer+ is 451 and fail+ is 550 at RCPT, the rest captured', async () => {
    const mixed = await send(['ann@example.test', 'defer+1@example.test', 'fail+1@example.test']);
    assert.deepEqual(mixed.accepted, ['ann@example.test']);
    assert.deepEqual(mixed.rejected.sort(), ['defer+1@example.test', 'fail+1@example.test']);
    assert.ok(lines.some((l) => l.includes('sink received') && l.includes('ann@example.test')));
    assert.ok(lines.some((l) => l.includes('sink refused: to=<defer+1@example.test> 451')));
    assert.ok(lines.some((l) => l.includes('sink refused: to=<fail+1@example.test> 550')));
    const codes = (await send(['defer+2@example.test'])).codes;
    assert.deepEqual(codes, [451]);
    assert.deepEqual((await send(['fail+2@example.test'])).codes, [550]);
  });

  test('later+ is deferred once, then accepted (a retry goes through)', async () => {
    assert.deepEqual((await send(['later+1@example.test'])).codes, [451]);
    assert.deepEqual((await send(['later+1@example.test'])).accepted, ['later+1@example.test']);
  });
});
