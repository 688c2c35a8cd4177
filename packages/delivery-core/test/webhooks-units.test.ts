/**
 * Webhooks' pure parts: the Standard Webhooks signature (the published test vector, and the spec
 * formula computed here with node:crypto), the batching of stream entries per endpoint, the retry
 * schedule, and the config section's checks (a bad secret is refused without being echoed).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError, type HeraldEvent, parseConfig } from '@herald/delivery-core';
import {
  batchBody,
  FanOutBuffer,
  RETRY_DELAYS_MS,
  retryDelayMs,
  type WebhookEndpoint,
  webhookHeaders,
  webhookSignature,
} from '@herald/delivery-core/webhooks';

describe('webhook signatures (Standard Webhooks)', () => {
  it('matches the published test vector', () => {
    const signature = webhookSignature(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    assert.equal(signature, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs "{id}.{timestamp}.{body}" with the decoded secret; timestamp in epoch seconds', () => {
    const key = Buffer.alloc(32, 0xab);
    const secret = `whsec_${key.toString('base64')}`;
    const body = batchBody(['{"type":"delivered"}']);
    const headers = webhookHeaders(secret, 'msg_1', 1_700_000_000_999, body);
    const expected = createHmac('sha256', key).update(`msg_1.1700000000.${body}`).digest('base64');
    assert.deepEqual(headers, {
      'content-type': 'application/json',
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': `v1,${expected}`,
    });
    assert.equal(body, '{"events":[{"type":"delivered"}]}');
  });
});

function endpoint(over: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id: 'e1',
    tenant: 'acme',
    url: 'http://127.0.0.1:9/hook',
    events: ['delivered', 'bounced'],
    secret: 'whsec_x',
    batchSize: 3,
    batchWaitMs: 1000,
    timeoutMs: 1000,
    retryForMs: 1000,
    source: 'config',
    since: 0,
    ...over,
  };
}

const event = (type: string, tenant = 'acme', messageId = 'm') =>
  ({ type, tenant, messageId, time: 1 }) as unknown as HeraldEvent;

describe('batching', () => {
  it("groups each endpoint's events by tenant and type, and is due when a batch is full", () => {
    const buffer = new FanOutBuffer([
      endpoint(),
      endpoint({ id: 'e2', tenant: 'other', events: ['bounced'] }),
    ]);
    assert.equal(buffer.add({ id: '100-0', event: event('delivered') }, 0), false);
    assert.equal(buffer.add({ id: '100-1', event: event('attempt') }, 0), false);
    assert.equal(buffer.add({ id: '100-2', event: event('bounced', 'other') }, 0), false);
    assert.equal(buffer.add({ id: '100-3', event: event('bounced') }, 0), false);
    assert.equal(buffer.add({ id: '100-4', event: event('delivered') }, 0), true, 'e1 has batch_size events');
    assert.equal(buffer.dueAt(), 0);
    const { batches, cursor } = buffer.take();
    assert.equal(cursor, '100-4');
    assert.deepEqual(
      batches.map((b) => [b.endpoint.id, b.events.map((e) => JSON.parse(e).type)]),
      [
        ['e1', ['delivered', 'bounced', 'delivered']],
        ['e2', ['bounced']],
      ],
    );
    assert.deepEqual(buffer.take(), { batches: [], cursor: undefined });
  });

  it('is due batch_wait after the first event, or a while after entries nobody wanted', () => {
    const buffer = new FanOutBuffer([endpoint({ batchWaitMs: 200 })]);
    assert.equal(buffer.dueAt(), undefined);
    buffer.add({ id: '5-0', event: event('attempt') }, 1000);
    assert.equal(buffer.dueAt(), 2000, 'only the cursor moved: saved within CURSOR_SAVE_MS');
    buffer.add({ id: '6-0', event: event('delivered') }, 1500);
    assert.equal(buffer.dueAt(), 1700);
  });

  it('sends a run-time endpoint only events written since it was added', () => {
    const buffer = new FanOutBuffer([endpoint({ since: 5000 })]);
    buffer.add({ id: '4999-7', event: event('delivered') }, 0);
    buffer.add({ id: '5000-0', event: event('delivered') }, 0);
    assert.equal(buffer.take().batches[0]!.events.length, 1);
  });

  it('retries on the schedule with ±20 % jitter, the last delay repeating', () => {
    assert.equal(
      retryDelayMs(1, () => 0.5),
      RETRY_DELAYS_MS[0],
    );
    assert.equal(
      retryDelayMs(1, () => 0),
      RETRY_DELAYS_MS[0]! * 0.8,
    );
    assert.equal(
      retryDelayMs(99, () => 0.5),
      RETRY_DELAYS_MS.at(-1),
    );
  });
});

describe('the webhooks config section', () => {
  const secret = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
  const base = {
    tenant: 'default',
    url: 'http://127.0.0.1:9000/hook',
    events: ['delivered', 'bounced'],
    secret,
  };

  it('takes the operator contract, with defaults', () => {
    const [hook] = parseConfig({ webhooks: [base] }, { env: {} }).webhooks;
    assert.deepEqual(hook, {
      ...base,
      batch_size: 100,
      batch_wait: 1000,
      timeout: 10_000,
      retry_for: 86_400_000,
    });
  });

  const refused = (entry: Record<string, unknown>) => {
    try {
      parseConfig({ webhooks: [{ ...base, ...entry }] }, { env: {} });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    assert.fail('accepted');
  };

  it('refuses a short or malformed secret by its key path, never quoting it', () => {
    const short = `whsec_${Buffer.alloc(16, 2).toString('base64')}`;
    for (const bad of [
      short,
      'whsec_not base64 at all!!!!!!!!!!!!!',
      Buffer.alloc(24, 3).toString('base64'),
    ]) {
      const message = refused({ secret: bad });
      assert.match(message, /webhooks\[0\]\.secret: expected "whsec_"/);
      assert.ok(!message.includes(bad) && !message.includes(bad.slice(6, 20)), 'the secret is not echoed');
    }
  });

  it('refuses a non-http url, an unknown event type, a bad tenant, an unknown key', () => {
    assert.match(refused({ url: 'ftp://127.0.0.1/x' }), /webhooks\[0\]\.url: expected an http/);
    assert.match(
      refused({ events: ['delivered', 'opened'] }),
      /webhooks\[0\]\.events\[1\]: expected one of accepted/,
    );
    assert.match(refused({ tenant: 'no spaces' }), /webhooks\[0\]\.tenant: expected a tenant name/);
    assert.match(refused({ batchsize: 3 }), /webhooks\[0\]\.batchsize: unknown key/);
  });
});
