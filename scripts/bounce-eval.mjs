#!/usr/bin/env node
/**
 * Per-family accuracy of the bounce classifier on a labelled corpus (the layout of
 * ../shared/corpus/bounces: labels.json + emails/), so an operator sees where the rules are weak.
 *
 *   node --conditions=herald-source --import tsx scripts/bounce-eval.mjs --set DIR [--json]
 *        [--misses] [--generic]
 *
 * Scoring is the corpus scorer's: a message is right when the first recipient's reason equals any
 * expected reason; hard/soft compares the first recipient's hard flag with the matched label's.
 * Families are the labels' `module` (lhost-postfix, rhost-google, rfc3464, ...).
 * --generic runs with every vendor-specific table off (provider rules, MTA wordings): what the
 *   generic rules alone get on each family, an estimate of a format the rules were not written for.
 * --misses lists each wrong message with expected and predicted reason and the deciding rule.
 * Without --conditions=herald-source it reads the built package (run `npm run build` first).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { classifyMessage } from '@herald/delivery-core/bounce';

const { values } = parseArgs({
  options: {
    set: { type: 'string' },
    json: { type: 'boolean' },
    misses: { type: 'boolean' },
    generic: { type: 'boolean' },
  },
});
if (!values.set) {
  process.stderr.write('usage: bounce-eval.mjs --set DIR [--json] [--misses] [--generic]\n');
  process.exit(2);
}
const dir = resolve(values.set);
const labels = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8'));
const options = values.generic ? { generic: true } : {};

const families = new Map();
const misses = [];
let total = 0;
let right = 0;
let hardTotal = 0;
let hardRight = 0;
for (const item of labels) {
  const report = classifyMessage(readFileSync(join(dir, item.file)), options);
  const first = report.recipients[0];
  const expected = item.recipients ?? [];
  const matched = expected.find((e) => e.reason === first?.reason);
  const ok = matched !== undefined;
  const withHard = expected.filter((e) => typeof e.hard === 'boolean');
  const hardLabel = matched && typeof matched.hard === 'boolean' ? matched : withHard[0];
  const family = families.get(item.module) ?? { n: 0, ok: 0, hardN: 0, hardOk: 0 };
  family.n++;
  total++;
  if (ok) {
    family.ok++;
    right++;
  } else {
    misses.push({
      file: item.file,
      module: item.module,
      expected: [...new Set(expected.map((e) => e.reason))].join('|'),
      got: first?.reason ?? '-',
      rule: first?.rule ?? '-',
    });
  }
  if (hardLabel) {
    family.hardN++;
    hardTotal++;
    if (first && first.hard === hardLabel.hard) {
      family.hardOk++;
      hardRight++;
    }
  }
  families.set(item.module, family);
}

const rows = [...families].sort(([a], [b]) => a.localeCompare(b));
const fixed = (x) => x.toFixed(3);
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({
      reason: right / total,
      hard: hardRight / hardTotal,
      messages: total,
      families: Object.fromEntries(rows),
      misses: values.misses ? misses : undefined,
    })}\n`,
  );
} else {
  process.stdout.write('family                      n   reason  hard/soft\n');
  for (const [name, f] of rows) {
    const hard = f.hardN ? fixed(f.hardOk / f.hardN) : '  -  ';
    process.stdout.write(`${name.padEnd(24)} ${String(f.n).padStart(4)}   ${fixed(f.ok / f.n)}  ${hard}\n`);
  }
  if (values.misses) {
    process.stdout.write('\nmisses (expected -> got, deciding rule):\n');
    for (const m of misses) process.stdout.write(`  ${m.file}  ${m.expected} -> ${m.got}  [${m.rule}]\n`);
  }
  const perFamily = rows.reduce((sum, [, f]) => sum + f.ok / f.n, 0) / rows.length;
  process.stdout.write(
    `\nreason ${fixed(right / total)} (${right}/${total}), hard/soft ${fixed(hardRight / hardTotal)} (${hardRight}/${hardTotal}), mean per family ${fixed(perFamily)} over ${rows.length} families${values.generic ? ' [generic rules only]' : ''}\n`,
  );
}
