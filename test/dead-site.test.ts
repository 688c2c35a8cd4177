/**
 * End to end: one slow or dead site never delays another. With few delivery slots and a backlog
 * for a site whose server never greets, the healthy site's mail still goes out at once: jobs over
 * the dead site's in-flight cap wait parked instead of holding delivery slots.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferrer } from './lib/cleanup.js';
import { sampleMessage } from './lib/message.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { SmtpClient } from './lib/smtp-client.js';
import { mxZone, startStack } from './lib/stack.js';

const DEAD_GREETING_MS = 30_000;
const DEAD_MESSAGES = 20;
const HEALTHY_MESSAGES = 20;
/** Far below the dead site's greeting delay: the healthy mail must not wait behind it. */
const HEALTHY_WITHIN_MS = 10_000;

describe('a dead site beside a healthy one', () => {
  it("a site that never greets does not hold up another site's mail", { timeout: 60_000 }, async (t) => {
    const defer = deferrer(t);
    const shapingFile = await writeShapingFile(defer, 'domains:\n  "dead.test": { max_connections: 2 }\n');
    const stack = await startStack({
      sinks: ['127.0.0.2', { host: '127.0.0.3', script: { greetingDelayMs: DEAD_GREETING_MS } }],
      zone: {
        ...mxZone('ok.test', [{ preference: 10, address: '127.0.0.2' }]),
        ...mxZone('dead.test', [{ preference: 10, address: '127.0.0.3' }]),
      },
      // Four delivery slots: without the per-site cap the dead site's backlog would take them all.
      config: { shaping: { file: shapingFile }, delivery: { concurrency: 4, greeting_timeout: '40s' } },
    });
    defer(() => stack.stop());

    const client = await SmtpClient.connect({ host: stack.smtp.host, port: stack.smtp.port });
    try {
      for (let i = 0; i < DEAD_MESSAGES; i++) {
        const sent = await client.send(
          { from: 'a@origin.test', to: [`d${i}@dead.test`] },
          sampleMessage({ subject: `d${i}` }),
        );
        assert.equal(sent.code, 250, sent.response);
      }
      const start = Date.now();
      for (let i = 0; i < HEALTHY_MESSAGES; i++) {
        const sent = await client.send(
          { from: 'a@origin.test', to: [`h${i}@ok.test`] },
          sampleMessage({ subject: `h${i}` }),
        );
        assert.equal(sent.code, 250, sent.response);
      }
      const healthy = stack.sinks[0]!;
      await healthy.waitForMessages(HEALTHY_MESSAGES, HEALTHY_WITHIN_MS);
      t.diagnostic(`healthy site's ${HEALTHY_MESSAGES} messages delivered in ${Date.now() - start} ms`);
      assert.ok(
        stack.sinks[1]!.stats().maxConcurrentConnections <= 2,
        'the dead site got at most its 2 connections',
      );
    } finally {
      client.close();
    }
  });
});
