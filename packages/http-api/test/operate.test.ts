/**
 * The operator and tenant routes on a real listener and a private Redis (no worker): tenant keys
 * see only their own tenant's message stories, events, suppressions, webhook endpoints and status
 * (proved with two tenants); events paging with `next` returns each entry once; the suppression
 * list round-trips through add, list (filters, paging), remove, CSV export and import; a site
 * suspend and resume change its state; webhook endpoints never show a secret, except the one Herald
 * generated, in its creation answer; bad input is 400/404/409/415/422 in the one error shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { queueKeys } from '@herald/delivery-core/keys';
import { ADMIN_KEY, type ApiStack, PREFIX, startApi, tenantKey } from './helpers.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const CONFIG_HOOK = {
  tenant: 'alpha',
  url: 'http://127.0.0.1:9/hook',
  events: ['delivered' as const],
  secret: SECRET,
};

let stack: ApiStack;
let alpha: string;
let beta: string;
before(async () => {
  stack = await startApi({ webhooks: [CONFIG_HOOK] });
  alpha = await tenantKey(stack, 'alpha');
  beta = await tenantKey(stack, 'beta');
});
after(() => stack.stop());

const send = async (key: string, to: string) => {
  const answer = await stack.call('POST', '/v1/messages', {
    key,
    body: { from: 'app@origin.test', to, subject: 's', text: 't' },
  });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer.body.id as string;
};
const streamIds = async () =>
  ((await stack.redis.client().xrange(queueKeys(PREFIX).events, '-', '+')) as [string, string[]][]).map(
    ([id]) => id,
  );

describe('tenant isolation (two tenants)', () => {
  test("a tenant key cannot read another tenant's message story: 404 as for an unknown id", async () => {
    const id = await send(alpha, 'one@dest.test');
    const own = await stack.call('GET', `/v1/messages/${id}`, { key: alpha });
    assert.equal(own.status, 200);
    assert.equal(own.body.id, id);
    assert.deepEqual(
      own.body.recipients.map((r: { address: string; state: string }) => [r.address, r.state]),
      [['one@dest.test', 'queued']],
    );
    const other = await stack.call('GET', `/v1/messages/${id}`, { key: beta });
    const unknown = await stack.call('GET', '/v1/messages/no-such-message', { key: beta });
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'HERALD_MESSAGE_NOT_FOUND');
    assert.deepEqual(other.body, unknown.body, 'the same answer as an unknown id');
    assert.equal((await stack.call('GET', `/v1/messages/${id}`, { key: ADMIN_KEY })).status, 200);
  });

  test("a tenant key reads only its own tenant's events; naming another is 403", async () => {
    await send(alpha, 'two@dest.test');
    await send(beta, 'three@dest.test');
    const own = await stack.call('GET', '/v1/events?limit=1000', { key: beta });
    assert.equal(own.status, 200);
    assert.ok(own.body.events.length > 0);
    assert.ok(own.body.events.every((e: { event: { tenant: string } }) => e.event.tenant === 'beta'));
    const forced = await stack.call('GET', '/v1/events?tenant=alpha', { key: beta });
    assert.equal(forced.status, 403);
    assert.equal(forced.body.error.code, 'HERALD_API_FORBIDDEN');
    const admin = await stack.call('GET', '/v1/events?tenant=alpha&limit=1000', { key: ADMIN_KEY });
    assert.ok(admin.body.events.length > 0);
    assert.ok(admin.body.events.every((e: { event: { tenant: string } }) => e.event.tenant === 'alpha'));
  });

  test('a tenant key reads and changes only its own suppression list', async () => {
    const added = await stack.call('POST', '/v1/suppressions', {
      key: alpha,
      body: { address: 'Gone@Dest.test' },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.address, 'gone@dest.test');
    const betaList = await stack.call('GET', '/v1/suppressions', { key: beta });
    assert.deepEqual(betaList.body.entries, []);
    assert.equal((await stack.call('GET', '/v1/suppressions?tenant=alpha', { key: beta })).status, 403);
    assert.equal(
      (await stack.call('GET', '/v1/suppressions/export?tenant=alpha', { key: beta })).status,
      403,
    );
    const removed = await stack.call('DELETE', '/v1/suppressions/gone%40dest.test', { key: beta });
    assert.equal(removed.status, 404, 'not on its own list; the other list is untouched');
    const alphaList = await stack.call('GET', '/v1/suppressions', { key: alpha });
    assert.deepEqual(
      alphaList.body.entries.map((e: { address: string }) => e.address),
      ['gone@dest.test'],
    );
  });

  test("a tenant key lists only its own tenant's webhook endpoints, never a secret, and adds none", async () => {
    const added = await stack.call('POST', '/v1/webhooks', {
      key: ADMIN_KEY,
      body: { tenant: 'beta', url: 'http://127.0.0.1:9/beta', events: ['bounced'], secret: SECRET },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const alphaList = await stack.call('GET', '/v1/webhooks', { key: alpha });
    assert.deepEqual(
      alphaList.body.endpoints.map((e: { tenant: string; source: string }) => [e.tenant, e.source]),
      [['alpha', 'config']],
    );
    const betaList = await stack.call('GET', '/v1/webhooks', { key: beta });
    assert.deepEqual(
      betaList.body.endpoints.map((e: { id: string }) => e.id),
      [added.body.id],
    );
    assert.equal((await stack.call('GET', '/v1/webhooks?tenant=alpha', { key: beta })).status, 403);
    const refused = await stack.call('POST', '/v1/webhooks', {
      key: beta,
      body: { tenant: 'beta', url: 'http://127.0.0.1:9/x', events: ['bounced'] },
    });
    assert.equal(refused.status, 403);
    for (const answer of [added, alphaList, betaList])
      assert.doesNotMatch(JSON.stringify(answer.body), /whsec_/);
  });

  test("a tenant key reads its own status only; pause, sites and the queue are admin's", async () => {
    const own = await stack.call('GET', '/v1/tenants/alpha', { key: alpha });
    assert.equal(own.status, 200);
    assert.equal(own.body.tenant, 'alpha');
    assert.equal(own.body.paused, null);
    assert.equal((await stack.call('GET', '/v1/tenants/beta', { key: alpha })).status, 403);
    for (const [method, path] of [
      ['POST', '/v1/tenants/alpha/pause'],
      ['GET', '/v1/sites'],
      ['GET', '/v1/queue/domain%3Adest.test'],
      ['POST', '/v1/queue/retry'],
      ['GET', '/v1/webhooks/dead'],
    ] as const) {
      const answer = await stack.call(method, path, {
        key: alpha,
        ...(method === 'POST' ? { body: {} } : {}),
      });
      assert.equal(answer.status, 403, `${method} ${path}`);
    }
  });
});

describe('events', () => {
  test('paging with next from the start returns every entry exactly once, then only what is new', async () => {
    await send(ADMIN_KEY, 'p1@dest.test');
    await send(ADMIN_KEY, 'p2@dest.test');
    const seen: string[] = [];
    let after = '0';
    for (let page = 0; page < 100; page++) {
      const answer = await stack.call('GET', `/v1/events?after=${after}&limit=2`, { key: ADMIN_KEY });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      seen.push(...answer.body.events.map((e: { id: string }) => e.id));
      after = answer.body.next;
      if (answer.body.events.length === 0) break;
    }
    assert.deepEqual(seen, await streamIds(), 'each entry once, in order');
    const fresh = await send(ADMIN_KEY, 'p3@dest.test');
    const next = await stack.call('GET', `/v1/events?after=${after}`, { key: ADMIN_KEY });
    assert.deepEqual(
      next.body.events.map((e: { event: { messageId: string } }) => e.event.messageId),
      [fresh],
    );
  });

  test('a type filter keeps only those types; the cursor still moves past what it skipped', async () => {
    const last = (await streamIds()).at(-1);
    const answer = await stack.call('GET', `/v1/events?after=${last}&type=bounced`, { key: ADMIN_KEY });
    assert.deepEqual(answer.body.events, []);
    assert.equal(answer.body.next, last);
    await send(ADMIN_KEY, 'p4@dest.test');
    const skipped = await stack.call('GET', `/v1/events?after=${last}&type=bounced,delivered`, {
      key: ADMIN_KEY,
    });
    assert.deepEqual(skipped.body.events, []);
    assert.equal(skipped.body.next, (await streamIds()).at(-1), 'past the accepted event it did not keep');
  });

  test('a bad cursor, type or limit is 400', async () => {
    for (const query of [
      'after=yesterday',
      'type=delivered,nonsense',
      'limit=0',
      'limit=1001',
      'colour=red',
    ]) {
      const answer = await stack.call('GET', `/v1/events?${query}`, { key: ADMIN_KEY });
      assert.equal(answer.status, 400, query);
      assert.equal(answer.body.error.code, 'HERALD_API_BAD_REQUEST');
    }
  });
});

describe('suppressions', () => {
  const T = '?tenant=shop';
  const call = (method: string, path: string, body?: unknown) =>
    stack.call(method, path, { key: ADMIN_KEY, ...(body !== undefined ? { body } : {}) });

  test('add, list with filters and paging, remove', async () => {
    for (const [address, reason] of [
      ['ann@one.test', 'manual'],
      ['bob@one.test', 'userunknown'],
      ['ann@two.test', 'manual'],
    ])
      assert.equal((await call('POST', `/v1/suppressions${T}`, { address, reason })).status, 201);
    const soft = await call('POST', `/v1/suppressions${T}`, { address: 'cat@two.test', expires: '7d' });
    assert.equal(soft.status, 201);
    assert.ok(Date.parse(soft.body.expires_at) > Date.now());
    const addresses = (answer: { body: { entries: { address: string }[] } }) =>
      answer.body.entries.map((e) => e.address).sort();
    assert.deepEqual(addresses(await call('GET', `/v1/suppressions${T}&prefix=ann`)), [
      'ann@one.test',
      'ann@two.test',
    ]);
    assert.deepEqual(addresses(await call('GET', `/v1/suppressions${T}&contains=@ONE`)), [
      'ann@one.test',
      'bob@one.test',
    ]);
    assert.deepEqual(addresses(await call('GET', `/v1/suppressions${T}&reason=userunknown`)), [
      'bob@one.test',
    ]);
    const all = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const answer = await call('GET', `/v1/suppressions${T}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      for (const e of answer.body.entries) all.add(e.address);
      cursor = answer.body.next;
      if (!cursor) break;
    }
    assert.deepEqual([...all].sort(), ['ann@one.test', 'ann@two.test', 'bob@one.test', 'cat@two.test']);
    assert.equal(
      (await call('DELETE', `/v1/suppressions/${encodeURIComponent('bob@one.test')}${T}`)).status,
      204,
    );
    assert.equal(
      (await call('DELETE', `/v1/suppressions/${encodeURIComponent('bob@one.test')}${T}`)).status,
      404,
    );
    const bad = await call('POST', `/v1/suppressions${T}`, { address: 'not an address' });
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'HERALD_INPUT_INVALID']);
    assert.equal(
      (await call('POST', `/v1/suppressions${T}`, { address: 'x@y.test', expires: 'soon' })).status,
      400,
    );
  });

  test('an expiry past what a Date holds is 400 and stores nothing; the list stays readable', async () => {
    // Regression: "99999999999999d" was stored, answered 500 (Invalid time value), and every later
    // list and export of the tenant failed with 500 on that entry.
    const tenant = '?tenant=farfuture';
    const huge = await call('POST', `/v1/suppressions${tenant}`, {
      address: 'far@future.test',
      expires: '99999999999999d',
    });
    assert.deepEqual([huge.status, huge.body.error.code], [400, 'HERALD_API_BAD_REQUEST']);
    assert.match(huge.body.error.message, /36500d/);
    const longest = await call('POST', `/v1/suppressions${tenant}`, {
      address: 'far@future.test',
      expires: '36500d',
    });
    assert.equal(longest.status, 201, JSON.stringify(longest.body));
    const listed = await call('GET', `/v1/suppressions${tenant}`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      listed.body.entries.map((e: { address: string }) => e.address),
      ['far@future.test'],
    );
    assert.equal(
      (await stack.call('GET', `/v1/suppressions/export${tenant}`, { key: ADMIN_KEY })).status,
      200,
    );
  });

  test('an export that fails before its first byte answers in the API error shape, not a cut stream', async () => {
    const list = stack.herald.suppression;
    const exportCsv = list.exportCsv;
    list.exportCsv = async () => {
      throw new Error('scan failed at the first entry');
    };
    try {
      const failed = await stack.call('GET', `/v1/suppressions/export${T}`, { key: ADMIN_KEY });
      assert.equal(failed.status, 500);
      assert.equal(failed.body.error?.code, 'HERALD_INTERNAL', JSON.stringify(failed.body));
    } finally {
      list.exportCsv = exportCsv;
    }
  });

  test('export CSV, import it into another tenant (bad lines reported), export again: the same rows', async () => {
    const exported = await stack.call('GET', `/v1/suppressions/export${T}`, { key: ADMIN_KEY });
    assert.equal(exported.status, 200);
    assert.match(exported.headers.get('content-type') ?? '', /^text\/csv/);
    const lines = (exported.body as string).trim().split('\r\n');
    assert.equal(lines[0], 'address,reason,source,at,expires_at');
    assert.equal(lines.length, 4, 'three entries');
    const csv = `${lines[0]}\r\n${lines[1]}\r\nnot-an-address,manual,,,\r\n${lines.slice(2).join('\r\n')}\r\n`;
    const imported = await stack.call('POST', '/v1/suppressions/import?tenant=copy', {
      key: ADMIN_KEY,
      rawBody: csv,
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(imported.status, 200, JSON.stringify(imported.body));
    assert.deepEqual(
      [
        imported.body.rows,
        imported.body.written,
        imported.body.problems.map((p: { line: number }) => p.line),
      ],
      [4, 3, [3]],
    );
    const again = await stack.call('GET', '/v1/suppressions/export?tenant=copy', { key: ADMIN_KEY });
    const rows = (text: string) => text.trim().split('\r\n').slice(1).sort();
    assert.deepEqual(rows(again.body), rows(exported.body));
  });

  test('import: JSON is 415, no readable header is 422', async () => {
    const json = await stack.call('POST', '/v1/suppressions/import', {
      key: ADMIN_KEY,
      body: { address: 'a@b.test' },
    });
    assert.equal(json.status, 415);
    const headerless = await stack.call('POST', '/v1/suppressions/import', {
      key: ADMIN_KEY,
      rawBody: 'a@b.test,manual\r\n',
      headers: { 'content-type': 'text/csv' },
    });
    assert.deepEqual([headerless.status, headerless.body.error.code], [422, 'HERALD_INPUT_INVALID']);
  });
});

describe('tenants and sites', () => {
  test('pause and resume a tenant', async () => {
    const paused = await stack.call('POST', '/v1/tenants/alpha/pause', {
      key: ADMIN_KEY,
      body: { reason: 'audit' },
    });
    assert.deepEqual(paused.body, { tenant: 'alpha', paused: true, changed: true });
    const status = await stack.call('GET', '/v1/tenants/alpha', { key: alpha });
    assert.equal(status.body.paused.reason, 'audit');
    const resumed = await stack.call('POST', '/v1/tenants/alpha/resume', { key: ADMIN_KEY });
    assert.deepEqual(resumed.body, { tenant: 'alpha', paused: false, changed: true });
    assert.equal((await stack.call('GET', '/v1/tenants/alpha', { key: alpha })).body.paused, null);
  });

  test('suspend and resume a site (its name URL-encoded) change its listed state', async () => {
    const site = 'provider:gmail';
    const path = `/v1/sites/${encodeURIComponent(site)}`;
    const listed = async () => {
      const answer = await stack.call('GET', '/v1/sites', { key: ADMIN_KEY });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.sites.find((s: { site: string }) => s.site === site);
    };
    assert.equal((await listed()).state, 'active');
    assert.ok((await listed()).limits.max_connections > 0);
    const suspended = await stack.call('POST', `${path}/suspend`, {
      key: ADMIN_KEY,
      body: { duration: '10m', reason: 'maintenance' },
    });
    assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
    const row = await listed();
    assert.equal(row.state, 'suspended');
    assert.equal(row.suspended_until, suspended.body.suspended_until);
    assert.ok(Date.parse(row.suspended_until) > Date.now());
    const resumed = await stack.call('POST', `${path}/resume`, { key: ADMIN_KEY });
    assert.deepEqual(resumed.body, { site, state: 'active', changed: true });
    assert.equal((await listed()).state, 'active');
    const unknown = await stack.call('POST', '/v1/sites/provider%3Agmial/suspend', {
      key: ADMIN_KEY,
      body: {},
    });
    assert.deepEqual([unknown.status, unknown.body.error.code], [400, 'HERALD_INPUT_INVALID']);
    const noRoute = await stack.call('POST', '/v1/sites/route%3Anowhere.test%3A25/suspend', {
      key: ADMIN_KEY,
      body: {},
    });
    assert.deepEqual([noRoute.status, noRoute.body.error.code], [400, 'HERALD_INPUT_INVALID']);
    assert.match(noRoute.body.error.message, /no route produces it/);
    // Regression: a duration whose end no Date can hold suspended the site, then answered 500.
    const huge = await stack.call('POST', `${path}/suspend`, {
      key: ADMIN_KEY,
      body: { duration: '999999999999h' },
    });
    assert.deepEqual([huge.status, huge.body.error.code], [400, 'HERALD_API_BAD_REQUEST']);
    assert.equal((await listed()).state, 'active', 'a refused suspension suspends nothing');
    await assert.rejects(stack.herald.suspendSite(site, Number.MAX_SAFE_INTEGER), {
      code: 'HERALD_INPUT_INVALID',
    });
    assert.equal((await listed()).state, 'active');
    const mx = `mx:${Array.from({ length: 8 }, (_, i) => `mx${i}.a-rather-long-mail-host-name.example`).join(',')}`;
    const long = await stack.call('POST', `/v1/sites/${encodeURIComponent(mx)}/resume`, { key: ADMIN_KEY });
    assert.equal(long.status, 200, 'a long site name fits in the path');
    assert.equal(long.body.site, mx);
  });
});

describe('webhook endpoints and dead letters (admin)', () => {
  test('a generated secret is answered once; a given one never; remove; config endpoints stay', async () => {
    const generated = await stack.call('POST', '/v1/webhooks', {
      key: ADMIN_KEY,
      body: { tenant: 'alpha', url: 'http://127.0.0.1:9/gen', events: ['delivered', 'bounced'] },
    });
    assert.equal(generated.status, 201, JSON.stringify(generated.body));
    assert.match(generated.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const list = await stack.call('GET', '/v1/webhooks', { key: ADMIN_KEY });
    assert.ok(list.body.endpoints.some((e: { id: string }) => e.id === generated.body.id));
    assert.doesNotMatch(JSON.stringify(list.body), /whsec_|secret/);
    const invalid = await stack.call('POST', '/v1/webhooks', {
      key: ADMIN_KEY,
      body: { tenant: 'alpha', url: 'ftp://x', events: ['delivered'], secret: 'whsec_short' },
    });
    assert.deepEqual([invalid.status, invalid.body.error.code], [400, 'HERALD_INPUT_INVALID']);
    assert.doesNotMatch(
      JSON.stringify(invalid.body),
      /whsec_short/,
      'a secret is never echoed, even a bad one',
    );
    assert.equal(
      (await stack.call('DELETE', `/v1/webhooks/${generated.body.id}`, { key: ADMIN_KEY })).status,
      204,
    );
    assert.equal(
      (await stack.call('DELETE', `/v1/webhooks/${generated.body.id}`, { key: ADMIN_KEY })).status,
      404,
    );
    const configId = list.body.endpoints.find((e: { source: string }) => e.source === 'config').id;
    const kept = await stack.call('DELETE', `/v1/webhooks/${configId}`, { key: ADMIN_KEY });
    assert.deepEqual([kept.status, kept.body.error.code], [409, 'HERALD_API_CONFLICT']);
  });

  test('a password in an endpoint URL is masked in the 201 and in the list', async () => {
    const added = await stack.call('POST', '/v1/webhooks', {
      key: ADMIN_KEY,
      body: { tenant: 'alpha', url: 'http://hook:s3cretpass@127.0.0.1:9/pw', events: ['delivered'] },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.url, 'http://hook:***@127.0.0.1:9/pw');
    const list = await stack.call('GET', '/v1/webhooks', { key: ADMIN_KEY });
    const listed = list.body.endpoints.find((e: { id: string }) => e.id === added.body.id);
    assert.equal(listed.url, 'http://hook:***@127.0.0.1:9/pw');
    assert.doesNotMatch(JSON.stringify([added.body, list.body]), /s3cretpass/);
    const tenantView = await stack.call('GET', '/v1/webhooks', { key: alpha });
    assert.doesNotMatch(JSON.stringify(tenantView.body), /s3cretpass/);
    assert.equal(
      (await stack.call('DELETE', `/v1/webhooks/${added.body.id}`, { key: ADMIN_KEY })).status,
      204,
    );
  });

  test('dead letters: an empty list; replaying an unknown batch is 404, a body naming neither 400', async () => {
    assert.deepEqual((await stack.call('GET', '/v1/webhooks/dead', { key: ADMIN_KEY })).body, {
      batches: [],
    });
    const call = (body: unknown) => stack.call('POST', '/v1/webhooks/dead/replay', { key: ADMIN_KEY, body });
    assert.equal((await call({ batch: 'nope' })).status, 404);
    assert.equal((await call({})).status, 400);
    assert.deepEqual((await call({ all: true })).body, { replayed: 0 });
  });
});

describe('queue operations: input', () => {
  test('an unknown message is 404, a target-less retry or filter-less delete 400', async () => {
    const call = (path: string, body: unknown) => stack.call('POST', path, { key: ADMIN_KEY, body });
    const unknown = await call('/v1/queue/retry', { message_id: 'nope' });
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'HERALD_QUEUE_NOT_FOUND']);
    assert.equal((await call('/v1/queue/retry', {})).status, 400);
    assert.equal((await call('/v1/queue/retry', { site: 'x', all: true })).status, 400);
    const filterless = await call('/v1/queue/delete', {});
    assert.deepEqual([filterless.status, filterless.body.error.code], [400, 'HERALD_INPUT_INVALID']);
    assert.equal((await call('/v1/queue/bounce', { message_id: 'nope', reason: 'a\r\nb' })).status, 400);
  });
});
