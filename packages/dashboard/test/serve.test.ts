/**
 * The dashboard's file server on a real loopback listener, with a bundle laid out as Vite writes
 * it and a secret file beside it: each file with its content type, hashed assets cached as
 * immutable and index.html revalidated, the Content-Security-Policy on every answer, and no path
 * (dot segments raw or percent-encoded, backslashes, absolute paths) reaching the secret.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTENT_SECURITY_POLICY, createDashboardHandler } from '../src/index.js';

const SECRET = 'top-secret-content';
const JS = 'console.log("dashboard")';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with the path exactly as given (fetch would normalize dot segments away). */
function raw(
  port: number,
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(dir: string): Promise<{ server: http.Server; port: number }> {
  const handler = createDashboardHandler({ dir });
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404);
      res.end('outside /ui');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('dashboard file server', () => {
  let root: string;
  let server: http.Server;
  let port: number;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'herald-dashboard-'));
    const bundle = join(root, 'ui');
    await mkdir(join(bundle, 'assets'), { recursive: true });
    await writeFile(
      join(bundle, 'index.html'),
      '<!doctype html><script type="module" src="/ui/assets/index-AbC123.js"></script>',
    );
    await writeFile(join(bundle, 'assets', 'index-AbC123.js'), JS);
    await writeFile(join(bundle, 'assets', 'index-XyZ789.css'), 'body{}');
    await writeFile(join(bundle, 'assets', 'notes.unknown'), 'not a served type');
    await writeFile(join(root, 'secret.txt'), SECRET);
    ({ server, port } = await serve(bundle));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(root, { recursive: true, force: true });
  });

  it('serves index.html at /ui/ with no-cache and the CSP; /ui redirects to /ui/', async () => {
    const index = await raw(port, '/ui/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.equal(index.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/, 'no inline script, no eval');
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.match(index.body, /index-AbC123\.js/);
    const bare = await raw(port, '/ui');
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.location, '/ui/');
  });

  it('serves hashed assets with their content type, cached as immutable, and answers 304 to their ETag', async () => {
    const js = await raw(port, '/ui/assets/index-AbC123.js');
    assert.equal(js.status, 200);
    assert.equal(js.body, JS);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(js.headers['cache-control']), /max-age=31536000, immutable/);
    const css = await raw(port, '/ui/assets/index-XyZ789.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const again = await raw(port, '/ui/assets/index-AbC123.js', 'GET', {
      'if-none-match': String(js.headers.etag),
    });
    assert.equal(again.status, 304);
    const head = await raw(port, '/ui/assets/index-AbC123.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('never answers a file outside the bundle, whatever the path', async () => {
    const attempts = [
      '/ui/../secret.txt',
      '/ui/../../secret.txt',
      '/ui/assets/../../secret.txt',
      '/ui/%2e%2e/secret.txt',
      '/ui/%2E%2E%2Fsecret.txt',
      '/ui/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/ui/..%5csecret.txt',
      '/ui/..\\secret.txt',
      `/ui/${root}/secret.txt`,
      '/ui//etc/passwd',
      '/ui/assets/',
      '/ui/assets',
      '/ui/assets/notes.unknown',
      '/ui/index.html%00.js',
    ];
    for (const path of attempts) {
      const answer = await raw(port, path);
      assert.equal(answer.status, 404, `${path} → ${answer.status}`);
      assert.ok(!answer.body.includes(SECRET), path);
      assert.equal(answer.headers['content-security-policy'], CONTENT_SECURITY_POLICY, path);
    }
  });

  it('answers only GET and HEAD, and leaves paths outside /ui to the server', async () => {
    const post = await raw(port, '/ui/', 'POST');
    assert.equal(post.status, 405);
    const other = await raw(port, '/uix/index.html');
    assert.equal(other.body, 'outside /ui');
  });

  it('says how to build the bundle when it is missing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'herald-dashboard-empty-'));
    const missing = await serve(empty);
    try {
      const answer = await raw(missing.port, '/ui/');
      assert.equal(answer.status, 503);
      assert.match(answer.body, /npm run build/);
    } finally {
      await new Promise<void>((resolve) => missing.server.close(() => resolve()));
      await rm(empty, { recursive: true, force: true });
    }
  });
});
