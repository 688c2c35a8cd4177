/**
 * `herald queue stats|list|retry|flush|delete|bounce`: the delivery queue for operators. `stats`
 * counts per site (queue-stats.ts), `list` pages through one site's jobs (queue-list.ts), the
 * rest act on queued jobs through Herald's verbs (queue-act.ts). This module only dispatches
 * and holds the help text.
 */
import { usageError } from '../args.js';
import type { Command } from '../command.js';
import type { CliIo } from '../io.js';
import { type Action, runAction } from './queue-act.js';
import { runList } from './queue-list.js';
import { runStats, statsHelp } from './queue-stats.js';

const help = `${statsHelp}

Usage: herald queue list SITE [--limit N] [--after CURSOR] [--json] [--config FILE]
       herald queue retry (ID | --site SITE | --all) [--json] [--config FILE]
       herald queue flush SITE [--json] [--config FILE]
       herald queue delete (ID | [--site SITE] [--tenant T] [--from ADDR] [--to-domain D]...) [--json]
       herald queue bounce (ID | --site SITE) [--reason TEXT] [--json] [--config FILE]

list    the site's queued jobs (one per message and destination domain) in acceptance order,
        --limit per page (default 50, at most 1000): state (ready; scheduled until T for a
        retry or a shaping wait; in flight; parked for a connection slot, a suspension or a
        tenant pause), attempts, sender, pending recipients, last error. The last line gives
        the --after CURSOR of the next page; paging returns every job once.
retry   make waiting jobs ready now (a retry's backoff, a shaping wait, parked): one message
        (ID, or one job ID.N), a site, or --all. They still pass the site's limits.
flush   the same for SITE, ignoring its backoff once; jobs held by a suspension or a
        tenant pause stay held: lift those with herald site resume / herald tenant resume.
delete  remove jobs: one message (ID), or every job matching all the filters given (a
        delete without either is refused); each pending recipient ends "bounced" with
        operator "delete" (550 5.0.0 deleted by operator). No DSN is sent.
bounce  the same for one message or a site, with operator "bounce" (550 5.0.0 bounced by
        operator[: TEXT]) and a DSN to the sender (none for the null sender).

SITE is provider:<name>, mx:<hosts> or route:<host>:<port> as herald queue stats shows it
(jobs rolled up to it), or domain:<name> (every job to that domain). Recipients already
delivered stay delivered. A job in flight cannot be removed: it is marked, and the
recipients its attempt leaves pending end that way after it ("in flight" in the output).`;

const ACTIONS: readonly Action[] = ['retry', 'flush', 'delete', 'bounce'];

async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'stats') return runStats(rest, io);
  if (sub === 'list') return runList(rest, io);
  if (ACTIONS.includes(sub as Action)) return runAction(sub as Action, rest, io);
  throw usageError(
    'queue',
    sub === undefined
      ? 'missing subcommand (stats, list, retry, flush, delete, bounce)'
      : `unknown subcommand "${sub}"`,
  );
}

export const queueCommand: Command = {
  name: 'queue',
  synopsis: 'stats|list|retry|flush|delete|bounce …',
  summary: 'the delivery queue: per-site stats, list, retry, flush, delete, bounce',
  help,
  run,
};
