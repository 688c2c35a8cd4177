/**
 * End to end: a reload (`relay.reload()`, what SIGHUP runs) changes where mail goes and who may
 * send it, in the delivery thread as well as at intake. Before: mail for routes.test goes by MX to
 * the first sink and any sender is taken. After adding a static route and a tenant's
 * sender_domains: the next message goes through the route to the second sink (decided in the
 * delivery thread), a foreign sender is refused at MAIL, and nothing needs a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deferrer } from './lib/cleanup.js';
import { mxZone, startStack } from './lib/stack.js';

const DOMAIN = 'routes.test';
const MX_SINK = '127.0.0.2';
const ROUTE_SINK = '127.0.0.3';
const BODY = 'From: app@allowed.test\r\nSubject: route\r\n\r\nhello\r\n';

describe('live reload of routes and tenants', () => {
  it('after a reload the next message takes the new static route and a sender outside sender_domains is refused', {
    timeout: 90_000,
  }, async (t) => {
    const defer = deferrer(t);
    const dir = await mkdtemp(join(tmpdir(), 'herald-reload-routes-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const configFile = join(dir, 'herald.json');
    const stack = await startStack({
      zone: mxZone(DOMAIN, [{ preference: 10, address: MX_SINK }]),
      sinks: [MX_SINK, ROUTE_SINK],
      config: { delivery: { threads: 1 } },
      relay: { configFile },
    });
    defer(() => stack.stop());
    const [mxSink, routeSink] = stack.sinks;

    const before = await stack.submit({ from: 'app@origin.test', to: [`one@${DOMAIN}`], body: BODY });
    assert.equal(before.code, 250, before.response);
    await mxSink!.waitForMessages(1);

    await writeFile(
      configFile,
      JSON.stringify(
        stack.config({
          delivery: { threads: 1 },
          routes: [{ match: DOMAIN, via: `${ROUTE_SINK}:${stack.mxPort}` }],
          tenants: { default: { sender_domains: ['allowed.test'] } },
        }),
      ),
    );
    const result = await stack.relay.reload();
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.applied, ['tenants', 'routes']);
    assert.deepEqual(result.needsRestart, []);
    assert.deepEqual(
      result.threads.map((thread) => thread.hash),
      [result.hash],
      'the delivery thread runs the new version',
    );

    const refused = await stack.submit({ from: 'app@origin.test', to: [`two@${DOMAIN}`], body: BODY });
    assert.equal(refused.code, 553, refused.response);
    assert.match(refused.response, /5\.7\.1/);
    const routed = await stack.submit({ from: 'app@allowed.test', to: [`three@${DOMAIN}`], body: BODY });
    assert.equal(routed.code, 250, routed.response);
    const [viaRoute] = await routeSink!.waitForMessages(1);
    assert.deepEqual(viaRoute!.to, [`three@${DOMAIN}`]);
    assert.equal(mxSink!.messages.length, 1, 'nothing more by MX');
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
