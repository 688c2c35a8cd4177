/**
 * Who reaches the dashboard's data on the relay's http.listen: with `http.ui.enabled` the API
 * routes the pages call are mounted there, same origin — an admin key is needed (401 without, a
 * tenant key 403) unless `open_on_loopback`, and any route the dashboard does not call (a send,
 * the key routes) is 404 there while the API's own listener still serves it. `/ui/access.json`
 * tells the page which; the health endpoints stay as they were. No browser needed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { CONTENT_SECURITY_POLICY } from '@herald/dashboard';
import { startStack } from './lib/stack.js';

const ADMIN_KEY = 'dashboard-access-admin-key-0123';

async function call(
  base: string,
  path: string,
  init: { method?: string; key?: string; body?: unknown } = {},
) {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

/** A request with headers fetch() will not set (Host, Origin), as a browser on another site sends them. */
function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard access on http.listen', () => {
  it('asks for an admin key, mounts only the routes the pages call, and keeps the health endpoints', async (t) => {
    const stack = await startStack({
      config: {
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        http: { ui: { enabled: true } },
      },
    });
    t.after(() => stack.stop());
    const base = `http://127.0.0.1:${stack.http.port}`;
    assert.deepEqual(JSON.parse((await call(base, '/ui/access.json')).text), { key_needed: true });
    const page = await call(base, '/ui/');
    assert.equal(page.status, 200, 'the bundle is built (npm test builds it)');
    assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in index.html');

    const refused = await call(base, '/v1/sites');
    assert.equal(refused.status, 401);
    assert.match(refused.text, /HERALD_API_UNAUTHENTICATED/);
    const sites = await call(base, '/v1/sites', { key: ADMIN_KEY });
    assert.equal(sites.status, 200);
    assert.ok(Array.isArray(JSON.parse(sites.text).sites));
    const activity = await call(base, '/v1/activity?minutes=5', { key: ADMIN_KEY });
    assert.equal(activity.status, 200);
    assert.equal(JSON.parse(activity.text).minutes.length, 5);

    // Not mounted here (the API's own listener serves them).
    for (const [method, path] of [
      ['POST', '/v1/messages'],
      ['GET', '/v1/keys'],
      ['POST', '/v1/queue/delete'],
      ['GET', '/openapi.json'],
    ] as const) {
      const answer = await call(base, path, {
        method,
        key: ADMIN_KEY,
        ...(method === 'POST' ? { body: {} } : {}),
      });
      assert.equal(answer.status, 404, `${method} ${path} on http.listen`);
    }
    const viaApi = await call(`http://127.0.0.1:${stack.api!.port}`, '/v1/keys', { key: ADMIN_KEY });
    assert.equal(viaApi.status, 200);

    assert.equal((await call(base, '/healthz')).text, 'ok\n');
    assert.equal((await call(base, '/readyz')).status, 200);
    assert.match((await call(base, '/metrics')).text, /herald_/);
  });

  it('open_on_loopback: the mounted routes answer without a key; a wrong key is still refused', async (t) => {
    const stack = await startStack({
      config: {
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        http: { ui: { enabled: true, open_on_loopback: true } },
      },
    });
    t.after(() => stack.stop());
    const base = `http://127.0.0.1:${stack.http.port}`;
    assert.deepEqual(JSON.parse((await call(base, '/ui/access.json')).text), { key_needed: false });
    assert.equal((await call(base, '/v1/sites')).status, 200);
    assert.equal((await call(base, '/v1/tenants')).status, 200);
    assert.equal((await call(base, '/v1/sites', { key: 'not-the-admin-key-at-all' })).status, 401);
    // The API's own listener is not opened by the dashboard's switch.
    assert.equal((await call(`http://127.0.0.1:${stack.api!.port}`, '/v1/sites')).status, 401);
    assert.equal((await call(base, '/v1/keys')).status, 404);
  });

  it('open_on_loopback: a keyless request from another site (cross-site POST, DNS rebinding) is not open', async (t) => {
    const stack = await startStack({
      config: {
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        http: { ui: { enabled: true, open_on_loopback: true } },
      },
    });
    t.after(() => stack.stop());
    const port = stack.http.port;
    const suspend = '/v1/sites/provider%3Agmail/suspend';
    // A page on evil.example POSTs with no body (no Content-Type, so no CORS preflight).
    const crossSite = await rawRequest(port, 'POST', suspend, {
      host: `127.0.0.1:${port}`,
      origin: 'http://evil.example',
    });
    assert.equal(crossSite.status, 401, crossSite.body);
    // DNS rebinding: evil.example resolves to 127.0.0.1, so the browser sends its own name as Host.
    const rebound = await rawRequest(port, 'GET', '/v1/sites', { host: `evil.example:${port}` });
    assert.equal(rebound.status, 401, rebound.body);
    const reboundPost = await rawRequest(port, 'POST', suspend, {
      host: `evil.example:${port}`,
      origin: `http://evil.example:${port}`,
    });
    assert.equal(reboundPost.status, 401, reboundPost.body);
    assert.equal((await stack.redisClient.keys('*suspend*')).length, 0, 'no site was suspended');
    // The dashboard's own page: loopback Host, same Origin (or none, for a GET).
    assert.equal((await rawRequest(port, 'GET', '/v1/sites', { host: `localhost:${port}` })).status, 200);
    const own = await rawRequest(port, 'POST', suspend, {
      host: `127.0.0.1:${port}`,
      origin: `http://127.0.0.1:${port}`,
    });
    assert.equal(own.status, 200, own.body);
  });

  it('without http.ui the http listener serves only the health endpoints', async (t) => {
    const stack = await startStack({
      config: { api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] } },
    });
    t.after(() => stack.stop());
    const base = `http://127.0.0.1:${stack.http.port}`;
    assert.equal((await call(base, '/ui/')).status, 404);
    assert.equal((await call(base, '/v1/sites', { key: ADMIN_KEY })).status, 404);
  });
});
