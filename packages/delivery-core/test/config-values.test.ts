import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compileTrustedNetworks,
  isDateTime,
  isTrusted,
  MAX_HOLD_MS,
  matchRoute,
  parseDuration,
  parseHoldDuration,
  parseHostPort,
  parseListen,
  parseSize,
} from '../src/config/index.js';

describe('parseDuration', () => {
  test('reads each unit and compounds into milliseconds', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('4h'), 4 * 3_600_000);
    assert.equal(parseDuration('5d'), 5 * 86_400_000);
    assert.equal(parseDuration('1h20m'), 80 * 60_000);
    assert.equal(parseDuration('1m30s500ms'), 90_500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration(' 2H '), 7_200_000);
  });

  test('takes numbers as milliseconds', () => {
    assert.equal(parseDuration(1234), 1234);
    assert.equal(parseDuration(0), 0);
  });

  test('throws on junk', () => {
    for (const junk of ['', '30', 's', '5 m', '5mm', '1h1h', '-5s', '5w', 'soon', Number.NaN, -1]) {
      assert.throws(() => parseDuration(junk), RangeError, String(junk));
    }
  });
});

describe('parseHoldDuration', () => {
  test('takes durations up to 36500d; a longer one (whose end no Date holds) is a RangeError', () => {
    assert.equal(parseHoldDuration('2h'), 2 * 3_600_000);
    assert.equal(parseHoldDuration('36500d'), MAX_HOLD_MS);
    assert.ok(isDateTime(Date.now() + MAX_HOLD_MS));
    assert.throws(() => parseHoldDuration('36501d'), /at most 36500d/);
    assert.throws(() => parseHoldDuration('999999999999h'), RangeError);
    assert.throws(() => parseHoldDuration('99999999999999d'), RangeError);
    assert.equal(isDateTime(8.64e15), true);
    assert.equal(isDateTime(8.64e15 + 1), false);
    assert.equal(isDateTime(Number.NaN), false);
  });
});

describe('parseSize', () => {
  test('reads bytes, SI and binary units', () => {
    assert.equal(parseSize(26214400), 26214400);
    assert.equal(parseSize('1024'), 1024);
    assert.equal(parseSize('512KB'), 512_000);
    assert.equal(parseSize('25MB'), 25_000_000);
    assert.equal(parseSize('10MiB'), 10_485_760);
    assert.equal(parseSize('1GiB'), 1024 ** 3);
    assert.equal(parseSize('64 kib'), 65_536);
  });

  test('throws on junk', () => {
    for (const junk of ['', 'MB', '25 megs', '-1MB', -1]) assert.throws(() => parseSize(junk), RangeError);
  });
});

describe('parseListen', () => {
  test('reads IPv4, bracketed IPv6, names and bare ports', () => {
    assert.deepEqual(parseListen('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525 });
    assert.deepEqual(parseListen('[::1]:25'), { host: '::1', port: 25 });
    assert.deepEqual(parseListen(':2525'), { host: '0.0.0.0', port: 2525 });
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  });

  test('throws without a port, with a bad port or a bad host', () => {
    for (const bad of [
      '127.0.0.1',
      '127.0.0.1:',
      '127.0.0.1:99999',
      '::1:25',
      '[::1',
      '[1.2.3.4]:25',
      'a b:25',
    ]) {
      assert.throws(() => parseListen(bad), RangeError, bad);
    }
  });
});

describe('parseHostPort', () => {
  test('uses the default port when none is given', () => {
    assert.deepEqual(parseHostPort('mx.example.test', 25), { host: 'mx.example.test', port: 25 });
    assert.deepEqual(parseHostPort('127.0.0.1:5353', 53), { host: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseHostPort('[::1]:5353', 53), { host: '::1', port: 5353 });
    assert.deepEqual(parseHostPort('[::1]', 53), { host: '::1', port: 53 });
    assert.deepEqual(parseHostPort('::1', 53), { host: '::1', port: 53 });
  });

  test('throws on port 0, junk ports and empty hosts', () => {
    for (const bad of ['h:0', 'h:x', ':25', '', '[::1]x'])
      assert.throws(() => parseHostPort(bad, 25), RangeError, bad);
  });
});

describe('matchRoute', () => {
  const routes = [
    { match: 'example.com', via: 'exact:25' },
    { match: '*.example.com', via: 'star:25' },
    { match: '.example.org', via: 'dot:25' },
    { match: '*', via: 'all:25' },
  ];
  const via = (domain: string) => matchRoute(routes, domain)?.via;

  test('an exact pattern matches only that domain, ignoring case and a trailing dot', () => {
    assert.equal(via('example.com'), 'exact:25');
    assert.equal(via('EXAMPLE.com.'), 'exact:25');
  });

  test('"*.example.com" and ".example.org" match subdomains only', () => {
    assert.equal(via('a.example.com'), 'star:25');
    assert.equal(via('a.b.example.org'), 'dot:25');
    assert.equal(via('example.org'), 'all:25');
    assert.equal(via('badexample.com'), 'all:25');
  });

  test('the first matching route wins and "*" matches everything', () => {
    assert.equal(
      matchRoute(
        [
          { match: '*', via: 'first' },
          { match: 'x.test', via: 'second' },
        ],
        'x.test',
      )?.via,
      'first',
    );
    assert.equal(via('anything.test'), 'all:25');
  });

  test('no route matches means undefined', () => {
    assert.equal(matchRoute([{ match: 'example.com', via: 'h' }], 'other.test'), undefined);
    assert.equal(matchRoute([], 'example.com'), undefined);
  });
});

describe('isTrusted', () => {
  const nets = ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1'];

  test('matches IPv4 CIDRs and single addresses', () => {
    assert.equal(isTrusted('10.1.2.3', nets), true);
    assert.equal(isTrusted('192.0.2.7', nets), true);
    assert.equal(isTrusted('192.0.2.8', nets), false);
    assert.equal(isTrusted('11.0.0.1', nets), false);
  });

  test('matches IPv6 CIDRs and single addresses', () => {
    assert.equal(isTrusted('2001:db8:1::5', nets), true);
    assert.equal(isTrusted('::1', nets), true);
    assert.equal(isTrusted('2001:db9::1', nets), false);
  });

  test('treats IPv4-mapped IPv6 clients as IPv4', () => {
    assert.equal(isTrusted('::ffff:10.9.8.7', nets), true);
    assert.equal(isTrusted('::FFFF:192.0.2.7', nets), true);
    assert.equal(isTrusted('::ffff:172.16.0.1', nets), false);
    assert.equal(isTrusted('10.0.0.1', ['::ffff:10.0.0.0/104']), true);
  });

  test('trusts nothing with an empty list or an unparseable address', () => {
    assert.equal(isTrusted('127.0.0.1', []), false);
    assert.equal(isTrusted('not-an-ip', nets), false);
  });

  test('a compiled checker gives the same answers and bad CIDRs throw', () => {
    const check = compileTrustedNetworks(['127.0.0.0/8']);
    assert.equal(check('127.0.0.1'), true);
    assert.equal(check('128.0.0.1'), false);
    assert.throws(() => compileTrustedNetworks(['10.0.0.0/33']), RangeError);
    assert.throws(() => compileTrustedNetworks(['office']), RangeError);
  });
});
