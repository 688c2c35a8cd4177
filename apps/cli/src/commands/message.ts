/**
 * `herald message show ID [--json] [--config FILE]`: one message's story, read from its trace in
 * Redis (delivery-core's `herald.messageStory`): the envelope, one line per recipient with its
 * state and last reply, every delivery attempt (time, MX host [IP], TLS, replies), feedback
 * received later, and for recipients not finished the next attempt and why they wait. An unknown
 * (or expired) id exits 1 with HERALD_MESSAGE_NOT_FOUND. Everything that came from the network
 * (replies, host names, addresses) is printed through `printableField`.
 */
import { createHerald, formatReply, type MessageStory } from '@herald/delivery-core';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField, table } from '../terminal-text.js';

const JSON_INDENT = 2;
const MS_PER_SECOND = 1_000;

const help = `Usage: herald message show ID [--json] [--config FILE]

Show one message's story: its envelope, each recipient's state (queued, deferred, delivered,
bounced, expired, suppressed) with the last reply, every delivery attempt (time, MX host and IP,
TLS, the replies), bounces and complaints received later, and for recipients not finished the
next attempt and why they wait (retry backoff, site suspended, tenant paused, waiting for a
connection slot, rate limit, in flight, ready). A story stays readable after the message
finished, for events.trace_retention (default 1h) after its last event.

  --config FILE   the relay's config (which Redis, which prefix); default: REDIS_URL
                  over the built-in defaults, else npm start's .herald/herald.yaml in
                  this checkout. The Redis read is named on stderr
  --json          print the story as JSON: the body the HTTP API's GET /v1/messages/{id}
                  answers (api section, a key of the message's tenant or an admin key)

Exit status: 0 shown, 1 no such message (HERALD_MESSAGE_NOT_FOUND) or Redis unavailable,
2 usage.`;

const time = (ms: number) => new Date(ms).toISOString();

/** "in 59m" / "2m ago": how far `at` is from `now`. */
function relative(at: number, now: number): string {
  const s = Math.round((at - now) / MS_PER_SECOND);
  const abs = Math.abs(s);
  const text =
    abs < 120 ? `${abs}s` : abs < 7_200 ? `${Math.round(abs / 60)}m` : `${(abs / 3_600).toFixed(1)}h`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/** The story as the lines a person reads. */
export function formatStory(story: MessageStory, now = Date.now()): string {
  const f = printableField;
  const lines: string[] = [];
  const traffic = [
    story.stream && `stream ${f(story.stream)}`,
    story.campaign && `campaign ${f(story.campaign)}`,
  ]
    .filter(Boolean)
    .join(', ');
  lines.push(
    `message:   ${f(story.id)}`,
    `tenant:    ${f(story.tenant)}`,
    `from:      <${f(story.from)}>`,
    `accepted:  ${time(story.acceptedAt)} via ${story.source}${story.client ? ` from ${f(story.client)}` : ''}, ${story.size} bytes${traffic ? `, ${traffic}` : ''}`,
    '',
    'recipients:',
    ...table(
      story.recipients.map((r) => [
        `  ${f(r.address)}`,
        r.state,
        r.attempts === 1 ? '1 attempt' : `${r.attempts} attempts`,
        r.reply ? f(formatReply(r.reply)) : '',
      ]),
    ),
  );
  lines.push('', 'attempts:');
  if (story.attempts.length === 0) lines.push('  none yet');
  for (const a of story.attempts) {
    const host = a.host ? `${f(a.host.hostname)} [${f(a.host.address)}]:${a.host.port}` : 'no host reached';
    const tls = a.host
      ? a.host.tls
        ? `TLS ${f(a.host.tlsVersion ?? '')}${a.host.tlsVerified ? ` verified${a.host.tlsVerifiedBy ? ` by ${a.host.tlsVerifiedBy}` : ''}` : ''}`.trimEnd()
        : 'no TLS'
      : '';
    lines.push(
      `  ${time(a.time)}  ${f(a.domain)} #${a.attempt}  ${host}  ${tls}  ${a.durationMs} ms`.trimEnd(),
    );
    const results = a.results.map((r) => formatReply(r.reply));
    for (const e of a.hostErrors) {
      const reply = formatReply(e.reply);
      // The attempt's own host, failed with the reply its recipients show (a 4xx to every RCPT):
      // already said by their lines.
      const own = a.host && e.hostname === a.host.hostname && e.address === a.host.address;
      if (own && results.includes(reply)) continue;
      lines.push(`      ${f(e.hostname)} [${f(e.address)}]: ${f(reply)}`);
    }
    a.results.forEach((r, i) => {
      lines.push(`      ${f(r.address)}: ${f(results[i]!)}`);
    });
  }
  if (story.feedback.length > 0) {
    lines.push('', 'feedback:');
    for (const fb of story.feedback)
      lines.push(
        `  ${time(fb.time)}  ${fb.type}  ${f(fb.recipient)}  ${f(fb.reason)}${fb.hard ? ' (hard)' : ''}${fb.suppressed ? ', suppressed' : ''}`,
      );
  }
  const waiting = story.recipients.filter((r) => r.state === 'queued' || r.state === 'deferred');
  if (waiting.length > 0) {
    lines.push('', 'next:');
    for (const r of waiting) {
      const until = r.waiting?.until ?? r.nextAttemptAt;
      const when = until === undefined ? '' : ` until ${time(until)} (${relative(until, now)})`;
      lines.push(`  ${f(r.address)}: ${f(r.waiting?.reason ?? 'unknown (no job found)')}${when}`);
    }
  }
  if (story.truncated)
    lines.push(
      '',
      'truncated: older events were dropped (events.trace_max_entries); counts are lower bounds',
    );
  return `${lines.join('\n')}\n`;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'message',
    args,
    { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
    true,
  );
  const [sub, id, ...extra] = positionals;
  if (sub !== 'show')
    throw usageError(
      'message',
      sub === undefined ? 'missing subcommand (show)' : `unknown subcommand "${sub}"`,
    );
  if (!id) throw usageError('message show', 'missing ID');
  if (extra.length > 0) throw usageError('message show', `unexpected argument "${extra[0]}"`);
  const config = loadRelayConfig(values.config, io, { spools: false });
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  try {
    const story = await herald.messageStory(id);
    if (!story)
      throw new CliExit(
        EXIT_FAILURE,
        'HERALD_MESSAGE_NOT_FOUND',
        `no message "${printableField(id)}" (never accepted here, or its trace expired after events.trace_retention)`,
      );
    io.stdout.write(values.json ? `${JSON.stringify(story, null, JSON_INDENT)}\n` : formatStory(story));
  } finally {
    await herald.close();
  }
  return EXIT_OK;
}

export const messageCommand: Command = {
  name: 'message',
  synopsis: 'show ID',
  summary: "show one message's story: recipients' states, attempts, why it waits",
  help,
  run,
};
