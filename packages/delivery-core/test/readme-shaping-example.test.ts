/**
 * README's example shaping file ("A shaping file with pools, warm-up and tenants") loads as
 * written over the shipped provider defaults, and its automation rule is not one of the shipped
 * ones (else `herald shaping check` lists it twice). The "DANE per destination" example parses to
 * the modes it names.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadProviderDefaults, mergeShaping, parseShaping } from '@herald/delivery-core/shaping';
import YAML from 'yaml';

const README = new URL('../../../README.md', import.meta.url);
const HEADING = 'A shaping file with pools, warm-up and tenants:';

const DANE_HEADING = '**DANE per destination**';

function exampleYaml(heading = HEADING): string {
  const readme = readFileSync(README, 'utf8');
  const after = readme.slice(readme.indexOf(heading));
  const match = /```yaml\n([\s\S]*?)```/.exec(after);
  assert.ok(readme.includes(heading) && match?.[1], 'the example is in README.md');
  return match[1];
}

describe("README's example shaping file", () => {
  test('loads over the shipped defaults, and adds an automation rule the defaults do not have', () => {
    const operator = parseShaping(YAML.parse(exampleYaml()), { source: 'README example' });
    const shipped = loadProviderDefaults();
    const merged = mergeShaping(shipped, operator);
    assert.equal(merged.automation.length, shipped.automation.length + operator.automation.length);
    assert.ok(operator.automation.length > 0);
    const key = (rule: unknown) => JSON.stringify((rule as { match: unknown }).match);
    const shippedMatches = new Set(shipped.automation.map(key));
    for (const rule of operator.automation)
      assert.ok(!shippedMatches.has(key(rule)), `already shipped: ${key(rule)}`);
  });

  test('the DANE per destination example sets require and off per site', () => {
    const shaping = parseShaping(YAML.parse(exampleYaml(DANE_HEADING)), { source: 'README DANE example' });
    assert.deepEqual(
      Object.values(shaping.sites).map((site) => site.dane),
      ['require', 'off'],
    );
  });
});
