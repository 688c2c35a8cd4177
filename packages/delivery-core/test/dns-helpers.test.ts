import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isIpAddress, orderByPreference, parseServer, readSystemNameservers } from '../src/dns/index.js';
import { MAX_ADDRESSES_PER_HOST, MAX_MX_HOSTS, mxNames, resolveMx } from '../src/dns/mx.js';
import { toQueryName } from '../src/dns/names.js';
import type { DnsAnswer, RecordType } from '../src/dns/types.js';
import { HeraldError } from '../src/errors/index.js';

describe('parseServer', () => {
  test('accepts IPv4 and IPv6 with and without port, defaulting to 53', () => {
    assert.deepEqual(parseServer('127.0.0.1'), { host: '127.0.0.1', port: 53 });
    assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseServer('[::1]:5353'), { host: '::1', port: 5353 });
    assert.deepEqual(parseServer('[::1]'), { host: '::1', port: 53 });
    assert.deepEqual(parseServer('::1'), { host: '::1', port: 53 });
  });

  test('rejects host names and bad ports as invalid configuration', () => {
    for (const bad of ['dns.example', '127.0.0.1:0', '127.0.0.1:70000', '127.0.0.1:x', '[::1]:', '']) {
      assert.throws(
        () => parseServer(bad),
        (err: unknown) => err instanceof HeraldError && err.code === 'HERALD_CONFIG_INVALID',
        bad,
      );
    }
  });
});

describe('isIpAddress', () => {
  test('recognises IPv4 and IPv6 literals only', () => {
    assert.equal(isIpAddress('192.0.2.1'), true);
    assert.equal(isIpAddress('2001:db8::1'), true);
    assert.equal(isIpAddress('example.test'), false);
    assert.equal(isIpAddress('[::1]'), false);
  });
});

describe('readSystemNameservers', () => {
  test('reads nameserver lines in order, skipping comments and other keywords', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-dns-'));
    try {
      const path = join(dir, 'resolv.conf');
      writeFileSync(
        path,
        '# comment\nsearch example.test\nnameserver 127.0.0.53\n; nameserver 10.0.0.1\nnameserver ::1 # v6\noptions ndots:1\n',
      );
      assert.deepEqual(readSystemNameservers(path), ['127.0.0.53', '::1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('falls back to 127.0.0.1 when the file is missing', () => {
    assert.deepEqual(readSystemNameservers('/nonexistent/herald/resolv.conf'), ['127.0.0.1']);
  });
});

describe('toQueryName', () => {
  test('lower-cases, strips the trailing dot and keeps A-labels', () => {
    assert.equal(toQueryName('Example.TEST.'), 'example.test');
    assert.equal(toQueryName('xn--bcher-kva.test'), 'xn--bcher-kva.test');
  });

  test('converts U-labels to A-labels', () => {
    assert.equal(toQueryName('Bücher.test'), 'xn--bcher-kva.test');
  });

  test('rejects empty labels and over-long names', () => {
    assert.equal(toQueryName(''), undefined);
    assert.equal(toQueryName('a..test'), undefined);
    assert.equal(toQueryName(`${'a'.repeat(64)}.test`), undefined);
    assert.equal(toQueryName(`${'abcdefghi.'.repeat(26)}test`), undefined);
  });
});

describe('orderByPreference', () => {
  const records = [
    { preference: 20, exchange: 'b' },
    { preference: 10, exchange: 'a' },
    { preference: 20, exchange: 'c' },
    { preference: 30, exchange: 'd' },
  ];

  test('sorts by ascending preference whatever the shuffle', () => {
    for (const r of [0, 0.5, 0.999]) {
      const prefs = orderByPreference(records, () => r).map((x) => x.preference);
      assert.deepEqual(prefs, [10, 20, 20, 30]);
    }
  });

  test('equal preferences come out in the order the random source picks', () => {
    const first = orderByPreference(records, () => 0).map((x) => x.exchange);
    const second = orderByPreference(records, () => 0.999).map((x) => x.exchange);
    assert.deepEqual(new Set([first.slice(1, 3).join(), second.slice(1, 3).join()]), new Set(['b,c', 'c,b']));
  });

  test('a host listed twice is kept once, at its best preference', () => {
    const ordered = orderByPreference([
      { preference: 20, exchange: 'x' },
      { preference: 10, exchange: 'x' },
    ]);
    assert.deepEqual(ordered, [{ preference: 10, exchange: 'x' }]);
  });
});

describe("mxNames: the names a destination's site is named after", () => {
  test('by preference then name, each once at its best preference, whatever the record order', () => {
    const records = [
      { preference: 20, exchange: 'c.test' },
      { preference: 10, exchange: 'b.test' },
      { preference: 10, exchange: 'a.test' },
      { preference: 5, exchange: 'c.test' },
    ];
    assert.deepEqual(mxNames(records), ['c.test', 'a.test', 'b.test']);
    assert.deepEqual(mxNames([...records].reverse()), ['c.test', 'a.test', 'b.test']);
  });

  test('at most MAX_MX_HOSTS: the best preferences, ties by name, not by chance', () => {
    const tied = Array.from({ length: MAX_MX_HOSTS + 5 }, (_, i) => ({
      preference: 10,
      exchange: `mx${String(MAX_MX_HOSTS + 5 - i).padStart(2, '0')}.test`,
    }));
    const backup = { preference: 5, exchange: 'zz-backup.test' };
    const names = mxNames([...tied, backup]);
    assert.equal(names.length, MAX_MX_HOSTS);
    assert.deepEqual(names, [
      'zz-backup.test',
      ...Array.from({ length: MAX_MX_HOSTS - 1 }, (_, i) => `mx${String(i + 1).padStart(2, '0')}.test`),
    ]);
  });
});

describe('resolveMx against a hostile zone', () => {
  test('looks up only the best MAX_MX_HOSTS hosts, keeping MAX_ADDRESSES_PER_HOST addresses each', async () => {
    const asked: string[] = [];
    const query = async (name: string, type: RecordType): Promise<DnsAnswer> => {
      asked.push(`${name} ${type}`);
      if (type === 'MX') {
        const answers = Array.from({ length: 500 }, (_, i) => ({
          type: 'MX' as const,
          name,
          ttl: 60,
          preference: 1000 - i,
          exchange: `mx${i}.many.test`,
        }));
        return { rcode: 'NOERROR', answers } as unknown as DnsAnswer;
      }
      const answers =
        type === 'A'
          ? Array.from({ length: 50 }, (_, i) => ({
              type: 'A' as const,
              name,
              ttl: 60,
              address: `192.0.2.${i}`,
            }))
          : [];
      return { rcode: 'NOERROR', answers } as unknown as DnsAnswer;
    };
    const hosts = await resolveMx(query, 'many.test');
    assert.equal(hosts.length, MAX_MX_HOSTS);
    assert.deepEqual(
      hosts.map((h) => h.exchange),
      Array.from({ length: MAX_MX_HOSTS }, (_, i) => `mx${499 - i}.many.test`),
      'the best (lowest) preferences',
    );
    assert.ok(hosts.every((h) => h.addresses.length === MAX_ADDRESSES_PER_HOST));
    assert.equal(asked.length, 1 + 2 * MAX_MX_HOSTS, 'one MX query, then A and AAAA per kept host');
  });
});
