/**
 * The OpenAPI document and the routes are one list: every registered route is in the document
 * (method and path), every documented operation answers on the real listener with an admin key
 * (never the "no route" 404), and every non-public operation documents its 401.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OPENAPI_VERSION, openApiPath } from '../src/index.js';
import { ADMIN_KEY, type ApiStack, startApi } from './helpers.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

let stack: ApiStack;
let doc: {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown>; 'x-herald-auth': string }>>;
};
before(async () => {
  stack = await startApi();
  const answer = await stack.call('GET', '/openapi.json');
  assert.equal(answer.status, 200);
  doc = answer.body;
});
after(() => stack.stop());

test('an OpenAPI 3.1 document', () => {
  assert.equal(doc.openapi, OPENAPI_VERSION);
  assert.match(OPENAPI_VERSION, /^3\.1\./);
});

test('every registered route is documented, and nothing else is', () => {
  const registered = stack.server.routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`).sort();
  const documented = Object.entries(doc.paths)
    .flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m} ${path}`),
    )
    .sort();
  assert.deepEqual(documented, registered);
  assert.ok(registered.includes('post /v1/messages'));
});

test('every documented operation answers (not "no route") with an admin key', async () => {
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops)) {
      const url = path.replace(/\{[^}]+\}/g, '0000000000000000');
      const answer = await stack.call(method.toUpperCase(), url, {
        key: ADMIN_KEY,
        ...(method === 'get' || method === 'delete' ? {} : { body: {} }),
      });
      const noRoute = answer.status === 404 && /^no route/.test(answer.body?.error?.message ?? '');
      assert.ok(!noRoute, `${method} ${path} answers`);
      assert.ok(answer.status < 500, `${method} ${path}: ${answer.status}`);
      if (op['x-herald-auth'] !== 'public') assert.ok(op.responses['401'], `${method} ${path} documents 401`);
    }
});
