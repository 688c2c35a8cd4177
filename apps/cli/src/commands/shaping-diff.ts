/**
 * `herald shaping diff OLD NEW [--no-provider-defaults] [--json]`: what replacing shaping file OLD
 * with NEW does to each provider's, site's and domain's effective limits (delivery-core's
 * `diffShaping`), before it is applied with a reload. Exit codes like diff(1): 0 no change,
 * 1 changes printed, 2 a usage error or a file that does not load (its HERALD_* lines).
 */
import { ConfigError } from '@herald/delivery-core';
import { diffShaping, isEmptyDiff, loadShapingFile, type ShapingDiff } from '@herald/delivery-core/shaping';
import { parseCommandArgs, usageError } from '../args.js';
import { EXIT_OK, EXIT_USAGE, printError } from '../command.js';
import type { CliIo } from '../io.js';
import { printable } from '../terminal-text.js';

/** diff(1)'s "the inputs differ". */
const EXIT_DIFFERENT = 1;
const JSON_INDENT = 2;

export const diffHelp = `Usage: herald shaping diff OLD NEW [--no-provider-defaults] [--json]

Show what replacing shaping file OLD with NEW does to the effective limits of every
provider, site and domain either file names, before the change is applied (e.g. with
SIGHUP or \`herald config reload\`): each limit that changes, old → new, with the layer
that sets it; tenant rates that change; whether the automation rules change.

  --no-provider-defaults   compare the files alone, without the shipped providers
  --json                   print the diff as JSON

Exits 0 when nothing changes, 1 when changes are printed, 2 on a usage error or
when a file does not load (one HERALD_* line per problem, naming the key path).`;

const OPTIONS = { 'no-provider-defaults': { type: 'boolean' }, json: { type: 'boolean' } } as const;

export function formatShapingDiff(diff: ShapingDiff): string {
  const lines: string[] = [];
  for (const target of diff.targets) {
    const note = target.presence === 'both' ? '' : ` (${target.presence})`;
    lines.push(`${target.target}${note}`);
    const width = Math.max(...target.changes.map((c) => c.key.length));
    for (const c of target.changes)
      lines.push(`  ${c.key.padEnd(width)}  ${c.old} (${c.oldLayer}) → ${c.new} (${c.newLayer})`);
  }
  if (diff.tenants.length > 0) lines.push('tenants', ...diff.tenants.map((t) => `  ${t}`));
  if (diff.automation.changed)
    lines.push(`automation: ${diff.automation.old} rules → ${diff.automation.new} rules (changed)`);
  lines.push(
    isEmptyDiff(diff)
      ? `no limit changes (${diff.unchanged} sites compared)`
      : `${diff.targets.length} sites change, ${diff.unchanged} unchanged`,
  );
  return `${lines.join('\n')}\n`;
}

export async function runDiff(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('shaping diff', args, OPTIONS, true);
  const [oldFile, newFile, ...extra] = positionals;
  if (oldFile === undefined || newFile === undefined)
    throw usageError('shaping diff', 'expected OLD and NEW');
  if (extra.length > 0) throw usageError('shaping diff', `unexpected argument "${extra[0]}"`);
  const providerDefaults = !values['no-provider-defaults'];
  const loaded = [];
  for (const file of [oldFile, newFile]) {
    try {
      loaded.push(loadShapingFile(file, { providerDefaults }));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      printError(io, err.code, err.message);
      return EXIT_USAGE;
    }
  }
  const diff = diffShaping(loaded[0]!, loaded[1]!);
  if (values.json) io.stdout.write(`${JSON.stringify(diff, null, JSON_INDENT)}\n`);
  else io.stdout.write(printable(formatShapingDiff(diff)));
  return isEmptyDiff(diff) ? EXIT_OK : EXIT_DIFFERENT;
}
