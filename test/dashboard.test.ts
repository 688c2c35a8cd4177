/**
 * The dashboard in real Chromium (Debian's `chromium`, driven by playwright-core) against a real
 * relay (private Redis, loopback DNS, a scripted sink): one message to three recipients answered
 * 250, 550 5.1.1 and 451 (greylisted, retried in hours), then each page renders that data — the
 * overview's per-minute counts and Redis health, the sites table (delivered per minute, each
 * limit's layer, the last replies), the tenants table, the message's
 * story found by recipient, the bounce reasons per domain. Clicking suspend on the site holding
 * the deferred recipient writes the suspension to Redis and the page shows it with its time
 * left; resume lifts it. A paused tenant's resume button lifts the pause in Redis. The page asks
 * for the admin key first (no request refused before it). A search by recipient says how far back
 * it reached, and that its answer is partial once the stream holds more than one search reads.
 * Any console error or page error fails the test. A screenshot per page goes to test-artifacts/dashboard/, the overview's also to
 * docs/dashboard.png for the README when HERALD_UPDATE_SCREENSHOT=1 (a plain run leaves the tree
 * clean). Without a chromium the test is skipped, except in CI.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { siteStateKey } from '@herald/delivery-core/keys';
import { eventStreamKeys } from '@herald/delivery-core/queue';
import { type Browser, chromium } from 'playwright-core';
import { sampleMessage } from './lib/message.js';
import { mxZone, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
const README_SCREENSHOT = join(ROOT, 'docs', 'dashboard.png');
const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const chromiumPath = CHROMIUM_PATHS.find((p) => existsSync(p));
const skip =
  chromiumPath === undefined && !process.env.CI
    ? `no chromium at ${CHROMIUM_PATHS.join(' or ')} (apt-get install chromium; in CI .ci/run installs it)`
    : false;

const ADMIN_KEY = 'dashboard-admin-key-0123456789';
const OK = 'ok@dest.test';
const GONE = 'gone@dest.test';
const LATER = 'later@dest.test';
const SINK_HOST = '127.0.0.2';
const VIEWPORT = { width: 1280, height: 800 };
/** Each UI expectation waits at most this long (the pages poll every 5–10 s). */
const UI_WAIT_MS = 15_000;
/** GET /v1/activity/messages reads at most this many entries per stream (http-api activity.ts). */
const ACTIVITY_MAX_EVENTS = 20_000;

describe('the dashboard in Chromium', { skip }, () => {
  it('renders every page from a real relay, and suspend / resume change Redis and the page', async (t) => {
    assert.ok(chromiumPath, `CI must have chromium at ${CHROMIUM_PATHS.join(' or ')} (.ci/run installs it)`);
    const stack = await startStack({
      sinks: [
        {
          host: SINK_HOST,
          script: {
            rcpt: {
              [GONE]: { code: 550, enhanced: '5.1.1', text: 'no such mailbox here' },
              [LATER]: { code: 451, enhanced: '4.7.1', text: 'greylisted, come back later' },
            },
          },
        },
      ],
      zone: mxZone('dest.test', [{ preference: 10, address: SINK_HOST }]),
      config: {
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        http: { ui: { enabled: true } },
        retry: { schedule: ['2h'], jitter: 0 },
        tenants: { default: { dsn: false } },
      },
    });
    t.after(() => stack.stop());
    const herald = stack.relay.herald;
    const base = `http://127.0.0.1:${stack.http.port}`;

    const sent = await stack.submit({
      from: 'app@origin.test',
      to: [OK, GONE, LATER],
      body: sampleMessage({ subject: 'dashboard' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const id = sent.queueId!;
    assert.equal((await stack.events.terminal(OK, id)).type, 'delivered');
    assert.equal((await stack.events.terminal(GONE, id)).type, 'bounced');
    await stack.events.outcome('deferred', LATER);
    // The site of dest.test's MX, once the deferred job waits in it.
    const site = await waitUntil('the deferred job scheduled in its site', async () => {
      const stats = await herald.queueStats({ maxJobs: 100 });
      return stats.sites.find((s) => s.scheduled > 0)?.site;
    });

    const browser: Browser = await chromium.launch({
      executablePath: chromiumPath!,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: VIEWPORT });
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await mkdir(ARTIFACTS, { recursive: true });
    const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    const expectText = async (selector: string, pattern: RegExp) => {
      const locator = page.locator(selector).first();
      await locator.waitFor({ timeout: UI_WAIT_MS });
      // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator (rendered text), not a DOM node
      await waitUntil(`${selector} to show ${pattern}`, async () => pattern.test(await locator.innerText()), {
        timeoutMs: UI_WAIT_MS,
      });
    };

    // The key form comes first; nothing was asked of the API without a key.
    await page.goto(`${base}/ui/`);
    await page.locator('#key-form input[name=key]').fill(ADMIN_KEY);
    await page.locator('#key-form button[type=submit]').click();

    // Overview.
    await expectText('#delivered-total .value', /^1$/);
    await expectText('#bounced-total .value', /^1$/);
    await expectText('#deferred-total .value', /^1$/);
    await expectText('#accepted-total .value', /^3$/);
    await expectText('#redis-health .value', /^up$/);
    await expectText('#queue-depth .value', /^1$/);
    await page.locator('#per-minute canvas').waitFor({ timeout: UI_WAIT_MS });
    await shot('overview');
    if (process.env.HERALD_UPDATE_SCREENSHOT === '1')
      await copyFile(join(ARTIFACTS, 'overview.png'), README_SCREENSHOT);

    // Sites: suspend the site from its row; Redis holds the suspension, the page shows time left.
    await page.locator('#nav-sites').click();
    const row = page.locator(`#sites tr[data-site="${site}"]`);
    await row.waitFor({ timeout: UI_WAIT_MS });
    // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator (rendered text), not a DOM node
    assert.match(await row.innerText(), /active/);
    // Its recent outcomes (every relay's counters), each limit with its layer, its last replies.
    await expectText(`#sites tr[data-site="${site}"] td.rate`, /^0\.\d$/);
    assert.equal(
      await row.locator('td.rate').getAttribute('title'),
      'last 5 min: 1 delivered, 1 deferred, 1 bounced',
    );
    await expectText(`#sites tr[data-site="${site}"] td.max-connections .layer`, /^(built-in|defaults)$/);
    await expectText(`#sites tr[data-site="${site}"] td.replies`, /550 5\.1\.1 no such mailbox here/);
    await expectText(`#sites tr[data-site="${site}"] td.replies`, /451 4\.7\.1 greylisted, come back later/);
    await row.locator('select').selectOption('1h');
    await row.locator('button.suspend').click();
    await expectText(`#sites tr[data-site="${site}"] td.state`, /suspended \(\d+m \d+s left\)/);
    const until = Number(
      await stack.redisClient.get(siteStateKey(herald.config.redis.prefix, site, 'suspended')),
    );
    assert.ok(until > Date.now() + 50 * 60_000, `suspended in Redis for about an hour (until ${until})`);
    await shot('sites');
    await row.locator('button.resume').click();
    await expectText(`#sites tr[data-site="${site}"] td.state`, /^active$/);
    assert.equal(
      await stack.redisClient.get(siteStateKey(herald.config.redis.prefix, site, 'suspended')),
      null,
    );

    // Tenants: the default tenant's volume; a pause shown and lifted from the page.
    await herald.pauseTenant('default', 'dashboard test');
    await page.locator('#nav-tenants').click();
    await expectText('#tenants tr[data-tenant="default"] td.state', /paused since .*dashboard test/);
    // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator (rendered text), not a DOM node
    assert.match(await page.locator('#tenants tr[data-tenant="default"]').innerText(), /^default\s+3\s+1\s/);
    await shot('tenants');
    await page.locator('#tenants tr[data-tenant="default"] button.resume').click();
    await expectText('#tenants tr[data-tenant="default"] td.state', /^sending$/);
    assert.equal((await herald.tenantStatus('default')).paused, undefined);

    // A message, found by recipient: its story.
    await page.locator('#nav-message').click();
    await page.locator('#message-search input[name=q]').fill(GONE);
    await page.locator('#message-search button[type=submit]').click();
    await expectText('#story', new RegExp(id));
    // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator (rendered text), not a DOM node
    const story = await page.locator('#story-recipients').innerText();
    assert.match(story, new RegExp(`${GONE}\\s+bounced\\s+1\\s+550 5\\.1\\.1 no such mailbox here`));
    assert.match(story, new RegExp(`${OK}\\s+delivered`));
    assert.match(story, new RegExp(`${LATER}\\s+deferred\\s+1\\s+451 4\\.7\\.1.*retry`));
    await expectText('#story-attempts', /via mx1\.dest\.test \[127\.0\.0\.2\]/);
    // The search says how far back it reached; the answer is whole.
    await expectText('#search-window', /searched the last 60 minutes of the event stream \(events back to /);
    // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator (rendered text), not a DOM node
    assert.doesNotMatch(await page.locator('#search-window').innerText(), /Partial/);
    await shot('message');

    // Bounces: reasons over time and the top reasons of dest.test.
    await page.locator('#nav-bounces').click();
    await page.locator('#bounce-reasons canvas').waitFor({ timeout: UI_WAIT_MS });
    await expectText('#top-reasons tr[data-domain="dest.test"]', /dest\.test\s+1\s+userunknown \(1\)/);
    await shot('bounces');

    // A search whose window holds more events than one answer reads says it is partial, and the
    // 24-hour look-back says so too: newer events than the message fill a stream past the cap.
    const [stream] = eventStreamKeys(herald.config.redis.prefix, herald.shards.layout);
    const filler = stack.redisClient.pipeline();
    for (let i = 0; i <= ACTIVITY_MAX_EVENTS; i++)
      filler.xadd(
        stream!,
        '*',
        'event',
        JSON.stringify({ type: 'delivered', time: Date.now(), messageId: `filler-${i}`, recipient: OK }),
      );
    await filler.exec();
    await page.locator('#nav-message').click();
    await page.locator('#message-search input[name=q]').fill(GONE);
    await page.locator('#message-search button[type=submit]').click();
    await expectText('#search-window', /Partial answer: .*older messages may be missing/);
    await expectText('p.error', /no message to that recipient/);
    await page.locator('#search-further').click();
    await expectText('#search-window', /searched the last 1440 minutes.*Partial answer/);
    await shot('message-partial');

    assert.deepEqual(problems, [], 'no console error and no page error');
  });
});
