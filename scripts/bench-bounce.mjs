#!/usr/bin/env node
/**
 * Bounce classifier throughput on one core: SMTP replies classified per second (classifyReply,
 * the delivery path's per-recipient call) and bounce messages parsed + classified per second
 * (classifyMessage over the shared dev corpus held in memory, or the test fixtures when the
 * corpus is absent). Each phase runs for --seconds (default 2, at most 30), so the whole run is
 * bounded. Then the hostile shapes the classifier must stay linear on (a 1 MiB line without a
 * newline, a 10 MiB message, deeply nested MIME, 100k header fields, ...): the best of
 * HOSTILE_RUNS runs of each, in ms.
 *
 *   node scripts/bench-bounce.mjs [--seconds 2] [--corpus DIR] [--hostile-only]
 *
 * Runs the TypeScript sources through tsx (re-executes itself with --import tsx when needed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_SECONDS = 2;
const MAX_SECONDS = 30;
const CHECK_EVERY = 256;
const MS_PER_S = 1000;
const MIB = 1024 * 1024;
const HOSTILE_RUNS = 3;

if (!process.execArgv.some((a) => a.includes('tsx'))) {
  const child = spawnSync(
    process.execPath,
    [
      '--conditions=herald-source',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback;
}

const seconds = Math.min(
  MAX_SECONDS,
  Math.max(0.1, Number(option('seconds', DEFAULT_SECONDS)) || DEFAULT_SECONDS),
);
const corpusDir = resolve(option('corpus', join(ROOT, '..', 'shared', 'corpus', 'bounces', 'emails')));
const fixturesDir = join(ROOT, 'packages', 'delivery-core', 'test', 'fixtures', 'bounce');
const { classifyMessage, classifyReply } = await import(
  pathToFileURL(join(ROOT, 'packages', 'delivery-core', 'src', 'bounce', 'index.ts')).href
);

const REPLIES = [
  {
    code: 550,
    enhanced: '5.1.1',
    text: '<bob@example.test>: Recipient address rejected: User unknown in virtual mailbox table',
    stage: 'rcpt',
  },
  {
    code: 452,
    enhanced: '4.2.2',
    text: 'The email account that you tried to reach is over quota.',
    stage: 'rcpt',
  },
  { code: 421, enhanced: '4.7.0', text: 'Too many connections from your host.', stage: 'greeting' },
  {
    code: 554,
    enhanced: '5.7.1',
    text: 'Service unavailable; Client host [192.0.2.5] blocked using zen.spamhaus.org',
    stage: 'rcpt',
  },
  {
    code: 550,
    enhanced: '5.7.26',
    text: 'Unauthenticated email from example.test is not accepted due to domain DMARC policy',
    stage: 'data',
  },
  { code: 451, enhanced: '4.4.1', text: 'ECONNREFUSED: connect ECONNREFUSED 192.0.2.9:25', stage: 'connect' },
  { code: 552, enhanced: '5.3.4', text: 'Message size exceeds fixed maximum message size', stage: 'data' },
  { code: 550, text: 'Requested action not taken: mailbox unavailable', stage: 'rcpt' },
  { code: 451, enhanced: '4.7.1', text: 'Client host rejected: Please try again slower', stage: 'rcpt' },
  { code: 556, enhanced: '5.1.10', text: 'example.test does not accept mail (null MX)', stage: 'dns' },
];

function timed(label, unit, step) {
  const budgetMs = seconds * MS_PER_S;
  const start = performance.now();
  let count = 0;
  let bytes = 0;
  while (true) {
    for (let i = 0; i < CHECK_EVERY; i++) {
      bytes += step(count);
      count++;
    }
    if (performance.now() - start >= budgetMs) break;
  }
  const elapsedS = (performance.now() - start) / MS_PER_S;
  const rate = count / elapsedS;
  const perItemUs = (elapsedS * 1e6) / count;
  const mb = bytes > 0 ? `, ${(bytes / elapsedS / 1e6).toFixed(1)} MB/s` : '';
  console.log(
    `${label}: ${Math.round(rate).toLocaleString('en')} ${unit}/s (${perItemUs.toFixed(2)} µs each, ${count.toLocaleString('en')} in ${elapsedS.toFixed(2)} s${mb})`,
  );
}

function loadMessages() {
  const dir = existsSync(corpusDir) ? corpusDir : fixturesDir;
  const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
  return { dir, messages: files.map((f) => readFileSync(join(dir, f))) };
}

const DSN_HEAD = [
  'From: MAILER-DAEMON@mx.example.test',
  'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
  '',
  '--b',
  '',
  '<gone@example.test>: host mx.example.test said: 550 5.1.1 User unknown (in reply to RCPT TO command)',
  '--b',
  'Content-Type: message/delivery-status',
  '',
  'Final-Recipient: rfc822; gone@example.test',
  'Action: failed',
  'Status: 5.1.1',
  '--b',
  'Content-Type: message/rfc822',
  '',
  'Subject: the returned message',
  '',
  '',
].join('\n');

/** Hostile messages: name -> the raw bytes. */
function hostileMessages() {
  let nested = 'gone@example.test 550 5.1.1 unknown';
  for (let depth = 0; depth < 10_000; depth++)
    nested = `Content-Type: multipart/mixed; boundary="b${depth}"\n\n--b${depth}\n${nested}\n--b${depth}--\n`;
  const line76 = `${'QUJD'.repeat(19)}\n`;
  return {
    'a 1 MiB line without a newline': Buffer.from(`Subject: x\n\n${'a'.repeat(MIB)}`),
    'a 1 MiB line of dotted words': Buffer.from(`Subject: x\n\n${'a.'.repeat(MIB / 2)}`),
    'a 10 MiB DSN (returned message of 76-char lines)': Buffer.from(
      `${DSN_HEAD}${line76.repeat(Math.ceil((10 * MIB) / line76.length))}--b--\n`,
    ),
    'deeply nested MIME (10,000 levels)': Buffer.from(nested),
    '100,000 header fields': Buffer.from(`${'X-Header: value\n'.repeat(100_000)}\nbody`),
    '100,000 DSN recipient groups (1 MiB read)': Buffer.from(
      `Content-Type: message/delivery-status\n\n${'Final-Recipient: rfc822; u@example.test\nAction: failed\nStatus: 5.1.1\n\n'.repeat(100_000)}`,
    ),
  };
}

function hostile() {
  console.log(`hostile shapes (best of ${HOSTILE_RUNS}):`);
  for (const [name, raw] of Object.entries(hostileMessages())) {
    let best = Number.POSITIVE_INFINITY;
    let reason = '';
    for (let i = 0; i < HOSTILE_RUNS; i++) {
      const start = performance.now();
      reason = classifyMessage(raw).recipients[0]?.reason ?? '';
      best = Math.min(best, performance.now() - start);
    }
    const size =
      raw.length >= MIB ? `${(raw.length / MIB).toFixed(1)} MiB` : `${(raw.length / 1024).toFixed(0)} KiB`;
    console.log(`  ${name} (${size}): ${best.toFixed(1)} ms, reason ${reason}`);
  }
}

console.log(`bench-bounce: one core, ${seconds} s per phase, node ${process.version}`);
if (!process.argv.includes('--hostile-only')) {
  timed('classifyReply', 'replies', (i) => {
    classifyReply(REPLIES[i % REPLIES.length], 'bob@example.test');
    return 0;
  });
  const { dir, messages } = loadMessages();
  const totalBytes = messages.reduce((n, m) => n + m.length, 0);
  console.log(
    `messages: ${messages.length} from ${dir} (${(totalBytes / messages.length / 1024).toFixed(1)} KiB mean)`,
  );
  timed('classifyMessage', 'messages', (i) => {
    const raw = messages[i % messages.length];
    classifyMessage(raw);
    return raw.length;
  });
}
hostile();
