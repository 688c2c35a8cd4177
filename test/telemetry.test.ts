/**
 * End to end: OpenTelemetry traces of one message on real parts (private Redis, loopback DNS, an
 * SMTP sink, the relay with its delivery thread, the bounce-processor), received by an in-process
 * OTLP/HTTP receiver (test/lib/otlp-receiver.ts):
 * - the tree: smtp.session → herald.accept → herald.enqueue in the relay, and the delivery
 *   thread's herald.delivery.attempt in the same trace as the accept span's child, with the
 *   attempt's site, MX host, IP and reply; a bounce for the message is a bounce.intake span
 *   linked to the accept span;
 * - telemetry off (no `otlp`): no request reaches a receiver and no SDK is started;
 * - a bad telemetry section fails with its key path, never quoting a header value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBounceProcessor } from '@herald/bounce-processor';
import { parseConfig } from '@herald/delivery-core';
import { telemetrySdkStarts } from '@herald/delivery-core/telemetry';
import { BOUNCE, userUnknown } from './lib/bounce-reports.js';
import { sampleMessage } from './lib/message.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './lib/otlp-receiver.js';
import { SmtpClient } from './lib/smtp-client.js';
import { startStack } from './lib/stack.js';

const SENDER = 'sender@origin.test';
const RECIPIENT = 'someone@example.test';
/** Spans leave the batch this soon (the default is 5 s). */
const TEST_BATCH_DELAY = '100ms';

const named = (spans: readonly ReceivedSpan[], name: string, messageId?: string) =>
  spans.find(
    (s) => s.name === name && (messageId === undefined || s.attributes['herald.message_id'] === messageId),
  );

describe('OpenTelemetry traces', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startOtlpReceiver();
  });
  after(() => receiver.close());

  it('telemetry off: no request reaches the receiver and no SDK is started', async (t) => {
    const startsBefore = telemetrySdkStarts();
    // A telemetry section without `otlp` is off as well.
    const stack = await startStack({ config: { telemetry: { sample_ratio: 1 } } });
    t.after(() => stack.stop());
    assert.equal(stack.relay.herald.telemetry.enabled, false);
    const sent = await stack.submit({
      from: SENDER,
      to: [RECIPIENT],
      body: sampleMessage({ subject: 'traced' }),
    });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal(RECIPIENT)).type, 'delivered');
    await stack.stop();
    assert.equal(receiver.requests, 0);
    assert.equal(telemetrySdkStarts(), startsBefore, 'no tracer provider started in this thread');
  });

  it('one message: session → accept → enqueue, the delivery thread attempt under accept, the bounce linked', {
    timeout: 90_000,
  }, async (t) => {
    const stack = await startStack({
      config: {
        bounce: BOUNCE,
        telemetry: {
          otlp: { endpoint: receiver.url, headers: { 'x-test-token': 'a-secret-token-value' } },
          batch_delay: TEST_BATCH_DELAY,
        },
      },
    });
    t.after(() => stack.stop());
    assert.equal(stack.relay.herald.telemetry.enabled, true);
    const sent = await stack.submit({
      from: SENDER,
      to: [RECIPIENT],
      body: sampleMessage({ subject: 'traced' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const messageId = sent.queueId!;
    const [received] = await stack.sinks[0]!.waitForMessages(1);

    const tree = await receiver.waitFor('session, accept, enqueue and attempt spans', (spans) => {
      const accept = named(spans, 'herald.accept', messageId);
      const enqueue = named(spans, 'herald.enqueue', messageId);
      const attempt = named(spans, 'herald.delivery.attempt', messageId);
      const session =
        accept && spans.find((s) => s.name === 'smtp.session' && s.spanId === accept.parentSpanId);
      return accept && enqueue && attempt && session ? { accept, enqueue, attempt, session } : undefined;
    });
    const { session, accept, enqueue, attempt } = tree;
    assert.equal(session.parentSpanId, undefined, 'the session is the root');
    assert.equal(accept.traceId, session.traceId);
    assert.equal(enqueue.traceId, accept.traceId);
    assert.equal(enqueue.parentSpanId, accept.spanId);
    assert.equal(attempt.traceId, accept.traceId, 'the attempt joins the message trace');
    assert.equal(attempt.parentSpanId, accept.spanId, 'the attempt is a child of the accept span');
    assert.equal(accept.resource['herald.process'], 'relay');
    assert.equal(attempt.resource['herald.process'], 'delivery-thread', 'made in the delivery thread');
    assert.equal(accept.resource['service.name'], 'herald-relay');
    assert.equal(attempt.attributes['smtp.reply.code'], 250);
    assert.equal(attempt.attributes['herald.result'], 'delivered');
    assert.equal(typeof attempt.attributes['herald.site'], 'string');
    assert.equal(attempt.attributes['server.address'], 'mx1.example.test');
    assert.equal(attempt.attributes['network.peer.address'], stack.sinks[0]!.host);
    assert.equal(attempt.attributes['herald.tls'], false);
    assert.equal(accept.attributes['smtp.reply.code'], 250);
    assert.equal(receiver.lastHeaders['x-test-token'], 'a-secret-token-value', 'otlp.headers are sent');
    assert.match(String(receiver.lastHeaders['content-type']), /application\/json/);

    // A bounce of the message comes back to its VERP return path: linked to its trace.
    const processor = createBounceProcessor(stack.relay.herald);
    const address = await processor.start();
    let client: SmtpClient | undefined;
    // One hook, the client first: a processor stopping with a session still open waits for it.
    t.after(async () => {
      client?.close();
      await processor.stop();
    });
    client = await SmtpClient.connect(address);
    const bounced = await client.send({ from: '', to: [received!.from] }, userUnknown(RECIPIENT));
    assert.equal(bounced.code, 250, bounced.response);
    const intake = await receiver.waitFor('the bounce.intake span', (spans) =>
      named(spans, 'bounce.intake', messageId),
    );
    assert.deepEqual(intake.links, [{ traceId: accept.traceId, spanId: accept.spanId }]);
    assert.notEqual(intake.traceId, accept.traceId, 'a trace of its own, linked');
    assert.equal(intake.attributes['herald.bounce.reason'], 'userunknown');
    assert.equal(intake.attributes['herald.bounce.hard'], true);
    assert.equal(intake.attributes['herald.linked'], true);
  });

  it('a bad telemetry section fails at start with its key path, never quoting a header value', () => {
    const secret = 'Bearer do-not-print-me\r\nX: y';
    assert.throws(
      () =>
        parseConfig({
          telemetry: {
            otlp: { endpoint: 'ftp://collector', headers: { Authorization: secret } },
            sample_ratio: 2,
          },
        }),
      (err: Error) => {
        assert.match(err.message, /telemetry\.otlp\.endpoint/);
        assert.match(err.message, /telemetry\.sample_ratio/);
        assert.match(err.message, /telemetry\.otlp\.headers/);
        assert.doesNotMatch(err.message, /do-not-print-me/);
        return true;
      },
    );
  });
});
