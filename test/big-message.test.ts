/**
 * End to end: a 50 MB message through a relay in a child process that DKIM-signs every message.
 * It is accepted over SMTP, arrives at an smtp-server sink byte for byte (SHA-256 of what the sink
 * kept after its dot-unstuffing against what was sent: lines starting with ".", a line of just
 * ".", 1 MB lines) under the relay's added header fields, its signature verifies (mailauth), and
 * the relay's peak resident memory (VmHWM, every thread) above its RSS before the message stays
 * within MEMORY_BOUND_FACTOR × the message size. The figures are printed as diagnostics
 * (docs/benchmarks.md quotes them).
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dkimDnsRecord, readDkimKey, verifyDkim } from '@herald/delivery-core/auth';
import { createResolver } from '@herald/delivery-core/dns';
import { deferrer } from './lib/cleanup.js';
import { spawnRelay } from './lib/relay-process.js';
import { SmtpClient } from './lib/smtp-client.js';
import { FIRST_SINK_HOST, mxZone, startParts } from './lib/stack.js';

const MESSAGE_BYTES = 50 * 1024 * 1024;
const SINK_SIZE_BYTES = 64 * 1024 * 1024;
const LONG_LINE_BYTES = 1024 * 1024;
const BYTES_PER_KB = 1024;
const BYTES_PER_MIB = 1024 * 1024;
/**
 * The relay's peak RSS above its RSS before the message, in message sizes. Issue 13 asks for
 * about 3; measured 2.30× to 2.33× (the figure is printed). The bound sits below the 3.9–4.8×
 * of the code before the intake's shared memory went to the delivery thread without a copy (it
 * read the body back from Redis) and the 5.8× before the intake's copies were removed, so both
 * regressions fail.
 */
const MEMORY_BOUND_FACTOR = 3.5;
const DELIVERED_WITHIN_MS = 240_000;
const SENDER = 'big@origin.test';
const DKIM = { domain: 'platform.test', selector: 'big' };
const RECIPIENT = 'big@example.test';

/** A message of exactly `bytes` bytes (CRLF lines) that exercises dot-stuffing and long lines. */
function bigMessage(bytes: number): Buffer {
  const head = Buffer.from(
    `From: <${SENDER}>\r\nTo: <${RECIPIENT}>\r\nSubject: fifty megabytes\r\nMessage-ID: <big@origin.test>\r\n` +
      'Date: Thu, 03 Dec 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n',
  );
  const lines = [
    Buffer.from('.\r\n'),
    Buffer.from('..\r\n'),
    Buffer.from('.a line that starts with a dot\r\n'),
    Buffer.from(`${'x'.repeat(LONG_LINE_BYTES)}\r\n`),
    Buffer.from(`${'ordinary text, seventy-odd characters a line, as mail usually is.'}\r\n`),
  ];
  const out = Buffer.alloc(bytes);
  let at = head.copy(out, 0);
  for (let i = 0; at < bytes - 2; i++) {
    const line = lines[i % 50 === 3 ? 3 : i % 7 < 3 ? i % 7 : 4]!;
    at += line.copy(out, at, 0, Math.min(line.length, bytes - 2 - at));
  }
  out.write('\r\n', bytes - 2, 'latin1');
  return out;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, `${field} in /proc/${pid}/status`);
  return Number(match[1]) * BYTES_PER_KB;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const mib = (bytes: number) => `${(bytes / BYTES_PER_MIB).toFixed(1)} MiB`;

test('a 50 MB message is accepted, delivered byte for byte, and the relay stays within about 3× its size', {
  timeout: DELIVERED_WITHIN_MS + 60_000,
}, async (t) => {
  const defer = deferrer(t);
  const dir = await mkdtemp(join(tmpdir(), 'herald-e2e-big-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const keyText = generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const keyFile = join(dir, 'platform.pem');
  await writeFile(keyFile, keyText, { mode: 0o600 });
  const zone = mxZone('example.test', [{ preference: 10, address: FIRST_SINK_HOST }]);
  zone[`${DKIM.selector}._domainkey.${DKIM.domain}`] = { TXT: [dkimDnsRecord(readDkimKey(keyText))] };
  const parts = await startParts({ zone, sinks: [{ host: FIRST_SINK_HOST, size: SINK_SIZE_BYTES }] });
  defer(() => parts.stop());
  const relay = await spawnRelay(
    parts.config({
      smtp: { max_message_size: '60MiB' },
      dkim: [{ ...DKIM, key_file: keyFile, always: true }],
    }),
  );
  defer(() => relay.stop());
  const client = await SmtpClient.connect(relay.smtp);
  defer(() => client.close());

  // A small message first, so code loaded on first use is not counted against the big one.
  const warm = await client.send({ from: SENDER, to: [RECIPIENT] }, 'Subject: warm-up\r\n\r\nhello\r\n');
  assert.equal(warm.code, 250, warm.response);
  await parts.sinks[0]!.waitForMessages(1, DELIVERED_WITHIN_MS);
  const idle = statusKb(relay.pid, 'VmRSS');

  const sent = bigMessage(MESSAGE_BYTES);
  const accepted = await client.send({ from: SENDER, to: [RECIPIENT], size: sent.length }, sent);
  assert.equal(accepted.code, 250, accepted.response);
  const [, got] = await parts.sinks[0]!.waitForMessages(2, DELIVERED_WITHIN_MS);
  const peak = statusKb(relay.pid, 'VmHWM');

  const raw = got!.raw;
  assert.ok(raw.length > sent.length, 'the relay added its trace headers on top');
  const added = raw.subarray(0, raw.length - sent.length).toString('latin1');
  assert.match(added, /^(DKIM-Signature|Received): /, 'only header fields were added, on top');
  assert.ok(added.endsWith('\r\n'), 'the added headers end with a line end');
  assert.equal(
    sha256(raw.subarray(raw.length - sent.length)),
    sha256(sent),
    'the message arrived byte for byte',
  );
  assert.match(added, /^DKIM-Signature: /m, 'signed');
  const resolver = createResolver({ servers: [parts.dns.address] });
  defer(() => resolver.close());
  const verdicts = await verifyDkim(raw, { resolver });
  assert.deepEqual(
    verdicts.map((v) => `${v.domain} ${v.result}`),
    [`${DKIM.domain} pass`],
    'the signature of the whole 50 MB verifies',
  );

  const cost = peak - idle;
  t.diagnostic(
    `relay RSS before ${mib(idle)}, peak ${mib(peak)}, peak above before ${mib(cost)} = ` +
      `${(cost / sent.length).toFixed(2)}× the ${mib(sent.length)} message`,
  );
  assert.ok(
    cost < MEMORY_BOUND_FACTOR * sent.length,
    `peak RSS ${mib(peak)} is ${mib(cost)} above the ${mib(idle)} before the message: over ${MEMORY_BOUND_FACTOR}×`,
  );
});
