/**
 * The trust rules as a table: only the reported address the VERP token's keyed hash names is
 * confirmed (any position, any case, once); every other address is left aside; and what a
 * confirmed recipient's report does (suppress, count) by its classification.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Classification, classifyMessage } from '@herald/delivery-core/bounce';
import { newMessageId } from '@herald/delivery-core/queue';
import { decodeVerp, encodeVerp, type VerpDecoded, verpKeys } from '@herald/delivery-core/verp';
import { actionFor, screenRecipients } from '../src/feedback/trust.js';

const keys = verpKeys('a-secret-of-sixteen-characters', []);
const NOW = Date.UTC(2026, 0, 1);

function tokenFor(recipient: string): VerpDecoded {
  const messageId = newMessageId(NOW);
  const address = encodeVerp({ tenant: 'acme', messageId, recipient, now: NOW }, keys, 'b.test');
  const decoded = decodeVerp(address, keys, { now: NOW, maxAgeMs: 86_400_000 });
  assert.ok(decoded.ok);
  return decoded;
}

const reported = (address: string, reason: Classification['reason'] = 'userunknown'): Classification => ({
  ...classifyMessage('').recipients[0]!,
  address,
  reason,
});

describe('a report speaks only for its token', () => {
  it('confirms the one address the token names, wherever and however it is written', () => {
    const token = tokenFor('Gone@Dest.test');
    const { confirmed, others } = screenRecipients(token, [
      reported('victim@other.test'),
      reported(' GONE@dest.TEST '),
      reported('gone@dest.test'),
      reported('not an address'),
      reported('victim@other.test'),
      reported('second@other.test'),
    ]);
    assert.equal(confirmed?.address, 'gone@dest.test');
    assert.deepEqual(
      others.map((r) => r.address),
      ['victim@other.test', 'second@other.test'],
    );
  });

  it('confirms nobody when the report names only other addresses (a forwarded mailbox)', () => {
    const { confirmed, others } = screenRecipients(tokenFor('alice@dest.test'), [
      reported('alice@forward.test'),
    ]);
    assert.equal(confirmed, undefined);
    assert.deepEqual(
      others.map((r) => r.address),
      ['alice@forward.test'],
    );
  });

  it('what a confirmed report does, by its classification', () => {
    const cases: [Partial<Classification>, boolean, ReturnType<typeof actionFor>][] = [
      [
        { reason: 'feedback', action: 'suppress' },
        true,
        { kind: 'complaint', suppress: true, count: 'complaint' },
      ],
      [
        { reason: 'userunknown', action: 'suppress', hard: true },
        false,
        { kind: 'bounce', suppress: true, count: 'hard' },
      ],
      [{ reason: 'suspend', action: 'suppress', hard: false }, false, { kind: 'bounce', suppress: true }],
      [{ reason: 'mailboxfull', action: 'retry', hard: false }, false, { kind: 'bounce', suppress: false }],
      [{ reason: 'vacation', action: 'suppress', hard: false }, false, { kind: 'bounce', suppress: false }],
      [{ reason: 'undefined', action: 'suppress', hard: true }, true, { kind: 'bounce', suppress: false }],
    ];
    for (const [given, complaint, want] of cases)
      assert.deepEqual(
        actionFor({ ...reported('a@b.test'), ...given }, complaint),
        want,
        JSON.stringify(given),
      );
  });
});
