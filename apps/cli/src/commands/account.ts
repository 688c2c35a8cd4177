/**
 * `herald account list|status|unflag|release [ACCOUNT] [--config FILE]`: compromised-account
 * detection (config `behaviour`). An account is an SMTP user, else a tenant. `list` prints the
 * flagged accounts (rule, since, tenant, what each holds against the caps, reason); `status` an
 * account's counts as its rules read them, its flag and what it holds; `unflag` lifts a flag (its new mail is accepted again; held mail stays held);
 * `release` releases every message held for the account. Without a `behaviour` section:
 * HERALD_BEHAVIOUR_OFF. Each flag change is an account event in the stream.
 */
import { createHerald } from '@herald/delivery-core';
import { bucketsOf, type HeldState, minutesOf } from '@herald/delivery-core/behaviour';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';

const ACTIONS = ['list', 'status', 'unflag', 'release'] as const;

const help = `Usage: herald account list [--config FILE]
       herald account status ACCOUNT [--config FILE]
       herald account unflag ACCOUNT [--config FILE]
       herald account release ACCOUNT [--config FILE]

An account is the SMTP user a session authenticated as, else the tenant (API key, send()).
list     the flagged accounts: rule, since when, tenant, held messages/bytes (and whether a
         cap is reached: its new mail is then refused 451 4.7.1), why
status   an account's accepted recipients, hard bounces, complaints and recipient domains over
         its rules' windows, its flag, and what it holds against the caps
unflag   lift a flag: the account's new mail is accepted again (held mail stays held)
release  release every message held for the account (delivered as if just accepted)

--config gives the Redis and the behaviour section (rules); without one: HERALD_BEHAVIOUR_OFF.`;

/** `held 3/1000 msgs 2400/100000000 bytes`, then `, cap reached (messages)` when one is. */
function heldText(h: HeldState): string {
  const cap = h.capReached ? `, cap reached (${h.capReached})` : '';
  return `held ${h.messages}/${h.maxMessages} msgs ${h.bytes}/${h.maxBytes} bytes${cap}`;
}

function sum(values: readonly number[], count: number): number {
  return values.slice(0, count).reduce((a, b) => a + b, 0);
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'account',
    args,
    { config: { type: 'string', short: 'c' } },
    true,
  );
  const [action, account, ...extra] = positionals;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number]))
    throw usageError(
      'account',
      action === undefined ? `missing action (${ACTIONS.join(', ')})` : `unknown action "${action}"`,
    );
  if (action !== 'list' && !account) throw usageError(`account ${action}`, 'missing ACCOUNT');
  const unexpected = action === 'list' ? account : extra[0];
  if (unexpected !== undefined) throw usageError(`account ${action}`, `unexpected argument "${unexpected}"`);
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  if (!config.behaviour)
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_BEHAVIOUR_OFF',
      'the config has no behaviour section: no account is watched',
    );
  const herald = await createHerald(config);
  try {
    const behaviour = herald.behaviour!;
    const name = account ?? '';
    if (action === 'list') {
      for (const f of await behaviour.flagged())
        io.stdout.write(
          `${printableField(f.account)}  ${f.rule}  ${new Date(f.since).toISOString()}  ${printableField(f.tenant)}  ${heldText(f.held)}  ${printableField(f.reason)}\n`,
        );
    } else if (action === 'unflag') {
      const flag = await behaviour.unflag(name, 'operator');
      io.stdout.write(
        `${printableField(name)}: ${flag ? `unflagged (was ${flag.rule})` : 'was not flagged'}\n`,
      );
    } else if (action === 'release') {
      const released = await herald.quarantine.releaseAccount(name, 'operator');
      io.stdout.write(`${printableField(name)}: ${released.length} held message(s) released\n`);
      for (const id of released) io.stdout.write(`${id}\n`);
    } else {
      const { account: shown, rules, figures: f, flag, held } = await behaviour.status(name);
      const lines = [`account:     ${printableField(shown)}`];
      const windowed = (label: string, windowMs: number | undefined, values: readonly number[]) => {
        if (windowMs !== undefined)
          lines.push(`${label.padEnd(12)} ${sum(values, bucketsOf(windowMs))} in ${minutesOf(windowMs)}m`);
      };
      windowed('recipients:', rules.volume_spike?.window ?? rules.bounce_spike?.window, f.recipients);
      if (rules.volume_spike)
        lines.push(`baseline:    ${sum(f.hourly, f.hourly.length)} in ${f.hourly.length}h`);
      if (rules.domain_spread)
        lines.push(`domains:     ${f.domains} in ${minutesOf(rules.domain_spread.window)}m`);
      windowed('hard:', rules.bounce_spike?.window, f.hard);
      windowed('complaints:', rules.complaint_spike?.window, f.complaints);
      lines.push(
        `flag:        ${flag ? `${flag.rule} since ${new Date(flag.since).toISOString()}: ${printableField(flag.reason)}` : 'none'}`,
        `held:        ${heldText(held).slice('held '.length)}`,
        '',
      );
      io.stdout.write(lines.join('\n'));
    }
  } finally {
    await herald.close();
  }
  return EXIT_OK;
}

export const accountCommand: Command = {
  name: 'account',
  synopsis: 'list | status|unflag|release ACCOUNT',
  summary:
    "compromised-account detection: flagged accounts, an account's figures, unflag, release its held mail",
  help,
  run,
};
