/**
 * Every relay role exports its metrics on its own HTTP listener: split as README suggests
 * (`--roles smtp,http` on the edge, `--roles worker,http` elsewhere, one Redis), the edge relay's
 * /metrics counts the acceptance and the worker relay's the delivery, with its site and the
 * connection its delivery thread holds; both probe Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '@herald/delivery-core';
import { createRelay } from '@herald/relay';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const sender = 'app@sender.test';
const recipient = 'split@example.test';

async function scrape(address: { host: string; port: number }): Promise<string> {
  const res = await fetch(`http://${address.host}:${address.port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

describe('metrics of split relay roles', () => {
  let edge: Stack;
  let worker: Awaited<ReturnType<typeof createRelay>>;
  let workerHttp: { host: string; port: number };

  before(async () => {
    edge = await startStack({
      relay: { roles: ['smtp', 'http'] },
      config: { delivery: { idle_timeout: '60s' } },
    });
    worker = await createRelay(defaultConfig(edge.config({ delivery: { idle_timeout: '60s' } })), {
      roles: ['worker', 'http'],
    });
    const addresses = await worker.start();
    assert.ok(addresses.http && !addresses.smtp, 'the worker relay serves HTTP, not SMTP');
    workerHttp = addresses.http;
  });
  after(async () => {
    await worker?.stop();
    await edge?.stop();
  });

  it('the smtp relay counts the acceptance, the worker relay the delivery, each on its /metrics', async () => {
    const body = `From: ${sender}\r\nTo: ${recipient}\r\nSubject: split\r\n\r\nHello.\r\n`;
    const sent = await edge.submit({ from: sender, to: [recipient], body });
    assert.equal(sent.code, 250, sent.response);
    // Outcomes are counted from the forwarded events; connections come with the delivery
    // thread's next snapshot (posted every second).
    const siteOf = (text: string) =>
      /^herald_deliveries_total\{site="([^"]+)",result="delivered",reply_class="2xx"\} 1$/m.exec(text)?.[1];
    const delivered = await waitUntil('the worker relay delivered it and counts the connection', async () => {
      const text = await scrape(workerHttp);
      const site = siteOf(text);
      return (
        site && new RegExp(`^herald_site_connections_open\\{site="${site}"\\} 1$`, 'm').test(text) && text
      );
    });
    const site = siteOf(delivered);
    assert.ok(site && site !== 'none', 'the worker relay names the site');
    assert.match(delivered, /^herald_messages_delivered_total 1$/m);
    assert.match(delivered, /^herald_tenant_recipients_total\{tenant="[^"]+",outcome="delivered"\} 1$/m);
    assert.doesNotMatch(delivered, /^herald_messages_accepted_total\{source="smtp"\} [1-9]/m);

    const accepted = await scrape(edge.http);
    assert.match(accepted, /^herald_messages_accepted_total\{source="smtp"\} 1$/m);
    assert.match(accepted, /^herald_tenant_messages_accepted_total\{tenant="[^"]+"\} 1$/m);
    assert.match(accepted, /^herald_messages_delivered_total 0$/m, 'the edge relay delivers nothing');
    for (const text of [accepted, delivered]) assert.match(text, /^herald_redis_up 1$/m);
  });
});
