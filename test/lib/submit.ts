/**
 * Loading a stack with mail, for e2e tests: `submitEach` sends one single-recipient message per
 * address over `sessions` parallel SMTP sessions to the relay (each reply must be 250);
 * `sendEach` does the same through the library's `send()`, with tenant/stream/campaign options.
 */
import assert from 'node:assert/strict';
import type { Herald } from '@herald/delivery-core';
import { sampleMessage } from './message.js';
import type { Stack } from './stack.js';

export const TEST_SENDER = 'a@origin.test';

export async function submitEach(
  stack: Stack,
  recipients: readonly string[],
  sessions: number,
): Promise<void> {
  await Promise.all(
    Array.from({ length: sessions }, async (_, session) => {
      const client = await stack.client();
      try {
        for (let i = session; i < recipients.length; i += sessions) {
          const to = recipients[i]!;
          const sent = await client.send({ from: TEST_SENDER, to: [to] }, sampleMessage({ subject: to }));
          assert.equal(sent.code, 250, sent.response);
        }
      } finally {
        client.close();
      }
    }),
  );
}

export async function sendEach(
  herald: Herald,
  recipients: readonly string[],
  extra: { tenant?: string; stream?: string; campaign?: string } = {},
): Promise<void> {
  for (const to of recipients) {
    const result = await herald.send({ from: TEST_SENDER, to, subject: to, text: 'hello', ...extra });
    assert.deepEqual(result.rejected, [], `send to ${to}`);
  }
}
