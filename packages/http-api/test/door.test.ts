/**
 * The API's door (review findings): a request without a valid key is refused before its body is
 * read and its connection closed; every route but the send has a small body limit; failed
 * authentications are counted before any scrypt, so parallel garbage cannot pass the limit;
 * a blocked address still serves valid tenant keys and admin keys this process verified; the
 * listener caps connections in total and per client and cuts a slow header drip; framework and
 * parser errors come in the one error shape without quoting input; the log line names the key,
 * its label and the tenant acted on (never the key).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '@herald/delivery-core';
import { ADMIN_KEY, type ApiStack, startApi, tenantKey } from './helpers.js';
import { callFrom, closed, connect, readAnswer } from './raw-http.js';

const MESSAGE = { from: 'app@shop.test', to: 'someone@example.test', subject: 'hi', text: 'hello' };
const DECLARED_BODY_BYTES = 20_000_000;
const SENT_BODY_BYTES = 64 * 1024;
const port = (stack: ApiStack) => Number(new URL(stack.base).port);

describe('before the body is read', () => {
  let stack: ApiStack;
  let shopKey: string;
  before(async () => {
    stack = await startApi({}, { admin_keys: [{ key: ADMIN_KEY, label: 'ops' }] });
    shopKey = await tenantKey(stack, 'shop');
  });
  after(() => stack.stop());

  for (const [what, path, auth, status] of [
    ['no key', '/v1/messages', '', 401],
    ['a tenant key on an admin route', '/v1/keys', 'tenant', 403],
  ] as const)
    test(`${what}: ${status} before the body is read, then the connection is closed`, async () => {
      const socket = await connect(port(stack));
      const answered = readAnswer(socket);
      const authorization = auth === 'tenant' ? `Authorization: Bearer ${shopKey}\r\n` : '';
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${authorization}` +
          `Content-Length: ${DECLARED_BODY_BYTES}\r\n\r\n{"x":"${'a'.repeat(SENT_BODY_BYTES)}`,
      );
      // Only 64 KiB of the declared 20 MB was sent: an answer now means the body was not awaited.
      const answer = await answered;
      assert.equal(answer.status, status);
      assert.match(answer.head, /^connection: close$/im);
      assert.equal(
        JSON.parse(answer.body).error.code,
        status === 401 ? 'HERALD_API_UNAUTHENTICATED' : 'HERALD_API_FORBIDDEN',
      );
      await closed(socket);
    });

  test('every route but the send takes a small body (512 KiB): over it 413 in the one shape', async () => {
    const big = JSON.stringify({ tenant: 'shop', label: 'x'.repeat(600 * 1024) });
    const answer = await stack.call('POST', '/v1/keys', {
      key: ADMIN_KEY,
      rawBody: big,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.code, 'HERALD_API_TOO_LARGE');
  });

  test('a chunked body over the limit: 413 read by a client still writing, then the connection closed', async () => {
    // Half-open allowed: the client may write on after the server's FIN, as a client mid-upload does.
    const socket = net.connect({ port: port(stack), host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((resolve) => socket.once('connect', resolve));
    const errors: string[] = [];
    socket.on('error', (err) => errors.push(err.message));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.write(
      `POST /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_KEY}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x61), Buffer.from('\r\n')]);
    // Writes on past the 512 KiB limit until the answer arrives (at most 64 chunks: 4 MiB).
    for (let sent = 0; sent < 64 && !text.includes('\r\n\r\n'); sent++)
      await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
    await ended; // the server's FIN after the answer
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.match(text, /HERALD_API_TOO_LARGE/);
    // Still writing after the answer: drained, not reset.
    await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
    socket.end();
    await closed(socket);
    assert.deepEqual(errors, [], 'no reset while the client was still writing');
  });

  test('the log line names the admin key and its label, the tenant acted on, and a refused key', async () => {
    await stack.call('GET', '/v1/keys', { key: ADMIN_KEY });
    await stack.call('POST', '/v1/messages', { key: ADMIN_KEY, body: { ...MESSAGE, tenant: 'globex' } });
    await stack.call('GET', '/v1/keys', { key: shopKey });
    const lines = stack.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'api request');
    assert.ok(
      lines.some(
        (l) => l.route === '/v1/keys' && l.status === 200 && l.key === 'admin-0' && l.label === 'ops',
      ),
    );
    assert.ok(lines.some((l) => l.route === '/v1/messages' && l.status === 202 && l.tenant === 'globex'));
    assert.ok(lines.some((l) => l.status === 403 && l.tenant === 'shop' && typeof l.key === 'string'));
    const all = stack.logs.join('');
    assert.ok(!all.includes(ADMIN_KEY) && !all.includes(shopKey), 'never the key itself');
  });
});

describe('failure counts and blocks', () => {
  const hashedAdmin = 'hashed-admin-key-0123456789';
  let stack: ApiStack;
  before(async () => {
    stack = await startApi(
      {},
      {
        auth_failure_limit: 3,
        admin_keys: [{ key: ADMIN_KEY }, { key_hash: await hashPassword(hashedAdmin) }],
      },
    );
  });
  after(() => stack.stop());

  test('parallel garbage tokens: at most auth_failure_limit are verified (401), the rest 429', async () => {
    assert.equal((await stack.call('GET', '/v1/keys', { key: ADMIN_KEY })).status, 200, 'verified: cached');
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        stack.call('GET', '/v1/keys', { key: `garbage-token-${i}-0123456789` }),
      ),
    ).then((answers) => answers.map((a) => a.status));
    const count = (s: number) => statuses.filter((x) => x === s).length;
    assert.equal(count(401) + count(429), 12, statuses.join());
    assert.ok(count(401) <= 3, `at most 3 verified, got ${statuses.join()}`);
  });

  test('while blocked, a valid tenant key and an admin key verified here pass; nothing else is verified', async () => {
    const key = await tenantKey(stack, 'shop');
    const send = await stack.call('POST', '/v1/messages', { key, body: MESSAGE });
    assert.equal(send.status, 202, 'a stranger behind the same address does not lock this tenant out');
    assert.equal((await stack.call('GET', '/v1/keys', { key: ADMIN_KEY })).status, 200);
    const hashed = await stack.call('GET', '/v1/keys', { key: hashedAdmin });
    assert.equal(hashed.status, 429, 'a key that needs scrypt is not verified for a blocked address');
    assert.ok(Number(hashed.headers.get('retry-after')) > 60);
    assert.equal((await stack.call('GET', '/v1/keys')).status, 429);
    assert.equal((await stack.call('GET', '/v1/keys', { key: `${key.slice(0, -4)}AAAA` })).status, 429);
  });

  test('requests without any key count as failures too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await callFrom(port(stack), '127.0.0.2', '/v1/keys'));
    assert.deepEqual(statuses, [401, 401, 401, 429]);
  });
});

describe('connection caps', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApi({}, { max_connections: 6, max_connections_per_client: 3 });
  });
  after(() => stack.stop());

  test('past max_connections_per_client a connection is closed; past max_connections too', async () => {
    const first = [];
    for (let i = 0; i < 5; i++) first.push(await connect(port(stack), '127.0.0.1'));
    await Promise.all(first.slice(3).map(closed));
    for (const socket of first.slice(0, 3)) {
      const answered = readAnswer(socket);
      socket.write('GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await answered).status, 200, 'the first three are served');
    }
    const second = [];
    for (let i = 0; i < 3; i++) second.push(await connect(port(stack), '127.0.0.2'));
    const third = await connect(port(stack), '127.0.0.3');
    await closed(third);
    for (const socket of second) {
      const answered = readAnswer(socket);
      socket.write('GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await answered).status, 200, 'another client has its own share');
    }
    assert.ok(first.slice(0, 3).every((s) => !s.destroyed));
    for (const socket of [...first, ...second]) socket.destroy();
  });
});

describe('header deadline', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApi({}, { header_timeout: '1s' });
  });
  after(() => stack.stop());

  test('headers that do not arrive within header_timeout: 408 in the one shape, closed', async () => {
    const socket = await connect(port(stack));
    const answered = readAnswer(socket);
    socket.write('POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-a: ');
    const answer = await answered;
    assert.equal(answer.status, 408);
    assert.equal(JSON.parse(answer.body).error.code, 'HERALD_API_BAD_REQUEST');
    await closed(socket);
  });
});

describe('parser and router errors', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApi();
  });
  after(() => stack.stop());

  test('an invalid header byte: 400 in the one shape, not quoted', async () => {
    const socket = await connect(port(stack));
    const answered = readAnswer(socket);
    socket.write(
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nIdempotency-Key: sec\x01ret\r\nContent-Length: 0\r\n\r\n`,
    );
    const answer = await answered;
    assert.equal(answer.status, 400);
    const body = JSON.parse(answer.body);
    assert.equal(body.error.code, 'HERALD_API_BAD_REQUEST');
    assert.doesNotMatch(answer.body, /sec/);
  });

  test('a bad percent-encoding and malformed JSON: 400 in the one shape, quoting nothing', async () => {
    const url = await stack.call('DELETE', '/v1/keys/%E0%A4%A', { key: ADMIN_KEY });
    assert.equal(url.status, 400);
    assert.equal(url.body.error.code, 'HERALD_API_BAD_REQUEST');
    assert.doesNotMatch(JSON.stringify(url.body), /%E0|E0%A4/);
    const json = await stack.call('POST', '/v1/messages', {
      key: ADMIN_KEY,
      rawBody: '{"from": xsecret}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(json.status, 400);
    assert.equal(json.body.error.code, 'HERALD_API_BAD_REQUEST');
    assert.doesNotMatch(JSON.stringify(json.body), /xsecret/);
  });

  test('an unknown route: 404 quoting nothing of the path', async () => {
    const socket = await connect(port(stack));
    const answered = readAnswer(socket);
    socket.write('GET /v1/messages/../keys/<script>secret HTTP/1.1\r\nHost: x\r\n\r\n');
    const answer = await answered;
    socket.destroy();
    assert.equal(answer.status, 404);
    const body = JSON.parse(answer.body);
    assert.equal(body.error.code, 'HERALD_API_NOT_FOUND');
    assert.doesNotMatch(answer.body, /\.\.|keys|script|secret/);
  });
});
