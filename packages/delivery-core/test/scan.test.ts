/**
 * The content scan's decisions (scan/): rspamd's /checkv2 answer read, the tenant's action by
 * score (its own thresholds replace the default whole), the X-Spam headers, and a scanner that
 * fails answering fail-open or fail-closed, counted either way. The real rspamd is test/scanning.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '@herald/delivery-core';
import {
  actionForScore,
  createScanner,
  parseAnswer,
  type ScanResult,
  spamHeaders,
} from '@herald/delivery-core/scan';

const envelope = { from: 'a@origin.test', recipients: ['b@example.test'], queueId: 'q1' };

function scanning(extra: Record<string, unknown> = {}) {
  const config = parseConfig({ scanning: { rspamd: { url: 'http://127.0.0.1:11333' }, ...extra } });
  assert.ok(config.scanning);
  return config.scanning;
}

describe('content scan decisions', () => {
  it('reads score, action and symbols (highest first) from a /checkv2 answer', () => {
    const answer = parseAnswer(
      JSON.stringify({
        score: 7.2,
        action: 'add header',
        symbols: { A: { name: 'A', score: 1 }, B: { name: 'B', score: 5 } },
      }),
    );
    assert.deepEqual(answer, { score: 7.2, action: 'add header', symbols: ['B', 'A'] });
    assert.throws(() => parseAnswer('{"action":"reject"}'), /no score/);
    assert.throws(() => parseAnswer('<html>'), /not JSON/);
  });

  it('picks the highest action whose threshold the score reaches', () => {
    const t = { add_header: 6, quarantine: 10, reject: 15 };
    assert.equal(actionForScore(2, t), 'accept');
    assert.equal(actionForScore(6, t), 'add_header');
    assert.equal(actionForScore(12, t), 'quarantine');
    assert.equal(actionForScore(15, t), 'reject');
    assert.equal(actionForScore(99, { add_header: 6 }), 'add_header', 'a threshold left out never applies');
  });

  it('defaults to rspamd-like thresholds, and a tenant entry replaces the default whole', () => {
    const config = scanning({ actions: { default: { reject: 15 }, acme: { quarantine: 5 } } });
    assert.deepEqual(scanning().actions.default, { add_header: 6, quarantine: 10, reject: 15 });
    assert.equal(scanning().fail, 'open');
    assert.equal(scanning().rspamd.timeout, 5000);
    assert.deepEqual(config.actions.acme, { quarantine: 5 });
    assert.throws(
      () =>
        parseConfig({
          scanning: { rspamd: { url: 'x' }, actions: { default: { quarantine: 10, add_header: 12 } } },
        }),
      /scanning\.rspamd\.url|add_header|quarantine/,
    );
  });

  it('writes X-Spam, X-Spam-Score and X-Spam-Symbols', () => {
    assert.equal(
      spamHeaders(7.5, ['HERALD_TEST_SCORE', 'bad name']).toString(),
      'X-Spam: Yes\r\nX-Spam-Score: 7.50\r\nX-Spam-Symbols: HERALD_TEST_SCORE\r\n',
    );
  });

  for (const fail of ['open', 'closed'] as const)
    it(`answers failed_${fail} when the scanner fails and fail is ${fail}, and counts it`, async () => {
      const seen: ScanResult[] = [];
      const scanner = createScanner({
        scanning: scanning({ fail }),
        meter: { scanned: (result) => seen.push(result) },
        check: () => Promise.reject(new Error('connect ECONNREFUSED')),
      });
      const outcome = await scanner.scan('acme', envelope, Buffer.from('x'));
      assert.equal(outcome.action, `failed_${fail}`);
      assert.deepEqual(seen, [`failed_${fail}`]);
    });

  it("uses the tenant's thresholds for the answer's score", async () => {
    const scanner = createScanner({
      scanning: scanning({ actions: { default: { reject: 15 }, lenient: { quarantine: 10, reject: 100 } } }),
      check: () => Promise.resolve({ score: 15, action: 'reject', symbols: ['GTUBE'] }),
    });
    assert.equal((await scanner.scan('someone', envelope, Buffer.from('x'))).action, 'reject');
    const lenient = await scanner.scan('LENIENT', envelope, Buffer.from('x'));
    assert.deepEqual(lenient, { action: 'quarantine', score: 15, symbols: ['GTUBE'], threshold: 10 });
  });
});
