#!/usr/bin/env node
/**
 * Bounce classifier throughput on one core: SMTP replies classified per second (classifyReply,
 * the delivery path's per-recipient call) and bounce messages parsed + classified per second
 * (classifyMessage over the shared dev corpus held in memory, or the test fixtures when the
 * corpus is absent). Each phase runs for --seconds (default 2, at most 30), so the whole run is
 * bounded.
 *
 *   node scripts/bench-bounce.mjs [--seconds 2] [--corpus DIR]
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

console.log(`bench-bounce: one core, ${seconds} s per phase, node ${process.version}`);
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
