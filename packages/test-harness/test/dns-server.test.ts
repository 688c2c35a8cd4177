import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { DecodedPacket, RecordType } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { type DnsServerHandle, startDnsServer, type Zone } from '../src/dns-server.js';

type Reply = DecodedPacket & { rcode: string };

/** The data of each answer record (OPT pseudo-records have none). */
function dataOf(reply: Reply | undefined): unknown[] | undefined {
  return reply?.answers?.map((a) => ('data' in a ? a.data : undefined));
}

const CLIENT_TIMEOUT_MS = 1000;
const DROP_WAIT_MS = 150;
const DELAY_MS = 50;

function queryPacket(name: string, type: RecordType): Buffer {
  const id = Math.floor(Math.random() * 0xffff);
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type }],
  });
}

/** Sends one query over UDP; resolves undefined if nothing arrives within `timeoutMs`. */
function udpQuery(
  server: DnsServerHandle,
  name: string,
  type: RecordType,
  timeoutMs = CLIENT_TIMEOUT_MS,
): Promise<Reply | undefined> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(message) as Reply);
    });
    socket.send(queryPacket(name, type), server.port, server.host);
  });
}

/** Sends one query over TCP with the two-byte length prefix. */
function tcpQuery(server: DnsServerHandle, name: string, type: RecordType): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host);
    let buffer = Buffer.alloc(0);
    socket.setTimeout(CLIENT_TIMEOUT_MS, () => socket.destroy(new Error('tcp timeout')));
    socket.on('error', reject);
    socket.on('connect', () =>
      socket.write(dnsPacket.streamEncode({ ...dnsPacket.decode(queryPacket(name, type)) })),
    );
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        socket.end();
        resolve(dnsPacket.decode(buffer.subarray(2, 2 + buffer.readUInt16BE(0))) as Reply);
      }
    });
  });
}

const zone: Zone = {
  'example.test': {
    MX: [
      { preference: 20, exchange: 'mx2.example.test' },
      { preference: 10, exchange: 'mx1.example.test' },
    ],
    A: ['127.0.0.10'],
    AAAA: ['::1'],
    TXT: ['v=spf1 -all', 'x'.repeat(300)],
    ttl: 120,
  },
  'nullmx.test': { MX: [{ preference: 0, exchange: '.' }] },
  'broken.test': { rcode: 'SERVFAIL' },
  'big.test': { truncate: true, MX: [{ preference: 5, exchange: 'mx.big.test' }] },
  'alias.test': { CNAME: 'example.test' },
  'slow.test': { delayMs: DELAY_MS, A: ['127.0.0.11'] },
  'silent.test': { drop: true, A: ['127.0.0.12'] },
  'soa.test': { A: ['127.0.0.13'], soaMinimum: 30 },
  '1.0.0.127.in-addr.arpa': { PTR: ['localhost.test'] },
};

describe('loopback DNS server', () => {
  let server: DnsServerHandle;
  before(async () => {
    server = await startDnsServer({ zone });
  });
  after(async () => {
    await server.close();
  });

  test('listens on loopback with UDP and TCP on the same port', () => {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
    assert.equal(server.address, `127.0.0.1:${server.port}`);
  });

  test('answers MX records authoritatively with the zone TTL', async () => {
    const reply = await udpQuery(server, 'example.test', 'MX');
    assert.ok(reply);
    assert.equal(reply.rcode, 'NOERROR');
    assert.equal(reply.flag_aa, true);
    const mx = reply.answers?.map((a) => (a.type === 'MX' ? [a.data.preference, a.data.exchange] : null));
    assert.deepEqual(mx, [
      [20, 'mx2.example.test'],
      [10, 'mx1.example.test'],
    ]);
    const first = reply.answers?.[0];
    assert.equal(first && 'ttl' in first ? first.ttl : undefined, 120);
  });

  test('answers A and AAAA records', async () => {
    const a = await udpQuery(server, 'example.test', 'A');
    const aaaa = await udpQuery(server, 'example.test', 'AAAA');
    assert.deepEqual(dataOf(a), ['127.0.0.10']);
    assert.deepEqual(dataOf(aaaa), ['::1']);
  });

  test('answers TXT records, splitting long text into 255-byte strings', async () => {
    const reply = await udpQuery(server, 'example.test', 'TXT');
    const texts = reply?.answers?.map((r) => (r.type === 'TXT' ? r.data : null)) as Buffer[][];
    assert.equal(texts.length, 2);
    assert.equal(Buffer.concat(texts[0] ?? []).toString(), 'v=spf1 -all');
    assert.deepEqual(
      texts[1]?.map((chunk) => chunk.length),
      [255, 45],
    );
  });

  test('answers PTR records', async () => {
    const reply = await udpQuery(server, '1.0.0.127.in-addr.arpa', 'PTR');
    assert.deepEqual(dataOf(reply), ['localhost.test']);
  });

  test('serves a null MX as preference 0 exchange "."', async () => {
    const reply = await udpQuery(server, 'nullmx.test', 'MX');
    const only = reply?.answers?.[0];
    assert.equal(reply?.answers?.length, 1);
    assert.ok(only?.type === 'MX');
    assert.equal(only.data.preference, 0);
    assert.equal(only.data.exchange, '.');
  });

  test('a name absent from the zone gets NXDOMAIN', async () => {
    const reply = await udpQuery(server, 'missing.test', 'MX');
    assert.equal(reply?.rcode, 'NXDOMAIN');
    assert.equal(reply?.answers?.length, 0);
  });

  test('a present name without records of the type gets NODATA', async () => {
    const reply = await udpQuery(server, 'nullmx.test', 'A');
    assert.equal(reply?.rcode, 'NOERROR');
    assert.equal(reply?.answers?.length, 0);
  });

  test('a negative answer carries an SOA when soaMinimum is set', async () => {
    const reply = await udpQuery(server, 'soa.test', 'MX');
    const soa = reply?.authorities?.[0];
    assert.equal(reply?.answers?.length, 0);
    assert.ok(soa?.type === 'SOA');
    assert.equal(soa.data.minimum, 30);
  });

  test('a name with rcode SERVFAIL is answered with SERVFAIL', async () => {
    const reply = await udpQuery(server, 'broken.test', 'MX');
    assert.equal(reply?.rcode, 'SERVFAIL');
  });

  test('name matching is case-insensitive', async () => {
    const reply = await udpQuery(server, 'EXAMPLE.Test.', 'A');
    assert.deepEqual(dataOf(reply), ['127.0.0.10']);
  });

  test('a truncated name gets TC=1 and no answers over UDP, the full answer over TCP', async () => {
    const udp = await udpQuery(server, 'big.test', 'MX');
    assert.equal(udp?.flag_tc, true);
    assert.equal(udp?.answers?.length, 0);
    const tcp = await tcpQuery(server, 'big.test', 'MX');
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 1);
    const seen = server.queries.filter((q) => q.name === 'big.test').map((q) => q.transport);
    assert.deepEqual(seen, ['udp', 'tcp']);
  });

  test('a CNAME is answered with the target records when the target is in the zone', async () => {
    const reply = await udpQuery(server, 'alias.test', 'A');
    assert.deepEqual(
      reply?.answers?.map((r) => [r.type, 'data' in r ? r.data : undefined]),
      [
        ['CNAME', 'example.test'],
        ['A', '127.0.0.10'],
      ],
    );
  });

  test('delayMs delays the answer but still answers', async () => {
    const reply = await udpQuery(server, 'slow.test', 'A');
    assert.deepEqual(dataOf(reply), ['127.0.0.11']);
  });

  test('drop never answers, yet the query is recorded', async () => {
    const reply = await udpQuery(server, 'silent.test', 'A', DROP_WAIT_MS);
    assert.equal(reply, undefined);
    assert.deepEqual(server.queries.at(-1), { name: 'silent.test', type: 'A', transport: 'udp' });
  });

  test('setZone replaces the zone live', async () => {
    server.setZone({ 'fresh.test': { A: ['127.0.0.20'] } });
    const fresh = await udpQuery(server, 'fresh.test', 'A');
    const old = await udpQuery(server, 'example.test', 'A');
    server.setZone(zone);
    assert.deepEqual(dataOf(fresh), ['127.0.0.20']);
    assert.equal(old?.rcode, 'NXDOMAIN');
  });
});

test('close releases the port', async () => {
  const server = await startDnsServer({ zone: {} });
  await server.close();
  const again = await startDnsServer({ zone: {}, port: server.port });
  assert.equal(again.port, server.port);
  await again.close();
});
