import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  createTestCa,
  type DnsServerHandle,
  selfSignedCertificate,
  startDnsServer,
  type Zone,
} from '@herald/test-harness';
import { fetchPolicyText, MAX_POLICY_BYTES, MtaStsPolicies, trustedCas } from '../src/auth/index.js';
import { createResolver, type Resolver } from '../src/dns/index.js';

const POLICY_HOST = '127.0.0.1';
const POLICY = 'version: STSv1\r\nmode: enforce\r\nmx: mx1.good.test\r\nmax_age: 86400\r\n';
/** Policy domains the CA-signed server answers for, each with its own behaviour. */
const SITES = ['good', 'redirect', 'html', 'big', 'missing', 'slow', 'charset'] as const;
const SHORT_TIMEOUT_MS = 300;

function handler(requests: string[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    requests.push(`${host}${req.url}`);
    if (req.url !== '/.well-known/mta-sts.txt') return void res.writeHead(404).end();
    switch (host) {
      case 'mta-sts.good.test':
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end(POLICY);
      case 'mta-sts.charset.test':
        return void res.writeHead(200, { 'content-type': 'Text/Plain; charset=utf-8' }).end(POLICY);
      case 'mta-sts.redirect.test':
        return void res
          .writeHead(301, { location: 'https://mta-sts.good.test/.well-known/mta-sts.txt' })
          .end();
      case 'mta-sts.html.test':
        return void res.writeHead(200, { 'content-type': 'text/html' }).end(POLICY);
      case 'mta-sts.big.test':
        return void res
          .writeHead(200, { 'content-type': 'text/plain' })
          .end(`${POLICY}${'# padding\r\n'.repeat(MAX_POLICY_BYTES / 8)}`);
      case 'mta-sts.slow.test':
        return; // never answers
      default:
        return void res.writeHead(404).end();
    }
  };
}

async function listen(server: https.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, POLICY_HOST, resolve));
  return (server.address() as AddressInfo).port;
}

describe('fetching MTA-STS policies over HTTPS (loopback DNS, a test CA)', () => {
  let dns: DnsServerHandle;
  let resolver: Resolver;
  let server: https.Server;
  let selfSigned: https.Server;
  let port: number;
  let selfSignedPort: number;
  let ca: readonly string[] | undefined;
  const requests: string[] = [];

  before(async () => {
    const authority = await createTestCa();
    const names = [...SITES.map((s) => `mta-sts.${s}.test`)];
    server = https.createServer(await authority.issue(names), handler(requests));
    selfSigned = https.createServer(await selfSignedCertificate(), handler(requests));
    port = await listen(server);
    selfSignedPort = await listen(selfSigned);
    ca = trustedCas(authority.cert);
    const zone: Zone = {};
    for (const site of [...SITES, 'wrongname']) zone[`mta-sts.${site}.test`] = { A: [POLICY_HOST] };
    zone['_mta-sts.good.test'] = { TXT: ['v=STSv1; id=20240101T000000'] };
    zone['good.test'] = { MX: [{ preference: 10, exchange: 'mx1.good.test' }] };
    dns = await startDnsServer({ zone });
    resolver = createResolver({ servers: [dns.address] });
  });

  after(async () => {
    server.closeAllConnections();
    selfSigned.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => selfSigned.close(resolve));
    await resolver.close();
    await dns.close();
  });

  const fetchFrom = (domain: string, options: { port?: number; withCa?: boolean; timeoutMs?: number } = {}) =>
    fetchPolicyText(domain, {
      resolver,
      port: options.port ?? port,
      ...(options.withCa === false ? {} : { ca }),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });

  test('the policy of a domain comes from https://mta-sts.<domain>/.well-known/mta-sts.txt', async () => {
    assert.equal(await fetchFrom('good.test'), POLICY);
    assert.equal(requests.at(-1), 'mta-sts.good.test/.well-known/mta-sts.txt');
    assert.ok(
      dns.queries.some((q) => q.name === 'mta-sts.good.test' && q.type === 'A'),
      "the host was resolved by Herald's resolver on the loopback DNS server",
    );
  });

  test('text/plain with parameters and in any case is accepted', async () => {
    assert.equal(await fetchFrom('charset.test'), POLICY);
  });

  test('a redirect is not followed', async () => {
    const before = requests.length;
    await assert.rejects(fetchFrom('redirect.test'), /HTTP 301 \(redirects are not followed\)/);
    assert.equal(requests.length, before + 1, 'only the first URL was requested');
  });

  test('a body that is not text/plain is refused', async () => {
    await assert.rejects(fetchFrom('html.test'), /content-type text\/html/);
  });

  test(`a body over ${MAX_POLICY_BYTES} bytes is refused`, async () => {
    await assert.rejects(fetchFrom('big.test'), /larger than 65536 bytes/);
  });

  test('a 404 is a failed fetch', async () => {
    await assert.rejects(fetchFrom('missing.test'), /HTTP 404/);
  });

  test('a server that never answers fails after the timeout', async () => {
    // The message names the timer, so the rejection came from it (a stalled timer would hang the test).
    await assert.rejects(fetchFrom('slow.test', { timeoutMs: SHORT_TIMEOUT_MS }), /no answer within 300 ms/);
  });

  test("without the test CA the certificate is not trusted (Node's roots only)", async () => {
    await assert.rejects(fetchFrom('good.test', { withCa: false }), /unable to verify the first certificate/);
  });

  test('a certificate for other names is refused', async () => {
    await assert.rejects(fetchFrom('wrongname.test'), /altnames|does not match|Hostname/i);
  });

  test('a self-signed certificate is refused', async () => {
    await assert.rejects(fetchFrom('good.test', { port: selfSignedPort }), /self[- ]signed/i);
  });

  test('a name without an address fails before any connection', async () => {
    await assert.rejects(fetchFrom('nowhere.test'), /mta-sts\.nowhere\.test has no address/);
  });

  test('MtaStsPolicies fetches once, then decides from its cache', async () => {
    const hosts = [{ hostname: 'mx1.good.test', addresses: ['127.0.0.2'], port: 25 }];
    // Without ca_file the test CA is unknown: the fetch fails, so the domain has no policy.
    const untrusting = new MtaStsPolicies({ resolver, cacheSize: 10, policyPort: port });
    assert.equal(await untrusting.decide('good.test', hosts), undefined);
    assert.equal(untrusting.stats.fetchFailures, 1);
    const trusting = new MtaStsPolicies({ resolver, cacheSize: 10, extraCa: ca?.at(-1), policyPort: port });
    const fetched = requests.length;
    const first = await trusting.decide('good.test', hosts);
    assert.equal(first?.mode, 'enforce');
    assert.deepEqual(first?.tlsCa, ca);
    for (let i = 0; i < 10; i++) assert.equal((await trusting.decide('good.test', hosts))?.mode, 'enforce');
    assert.equal(requests.length, fetched + 1, 'one HTTPS request for eleven decisions');
  });
});
