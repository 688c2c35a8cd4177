import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { ConfigError } from '../src/config/index.js';
import { loadShapingFile, parseShaping } from '../src/shaping/index.js';

const OPERATOR_CONTRACT = `# shaping.yaml
defaults: { max_connections: 20, max_messages_per_connection: 100 }
domains:
  "slow.test": { max_connections: 2, max_message_rate: "5/s" }
automation:
  - { match: { enhanced: "4.7.28" }, action: { suspend: "2m" } }
`;

/** Parses `input` expecting a ConfigError, and returns it. */
function shapingError(input: unknown, source = 'shaping.yaml'): ConfigError {
  try {
    parseShaping(input, { source });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'HERALD_CONFIG_INVALID');
    return err;
  }
  assert.fail('expected parseShaping to throw');
}

function issueAt(err: ConfigError, path: string): string {
  const issue = err.issues.find((i) => i.path === path);
  assert.ok(issue, `no issue at ${path}; issues: ${err.message}`);
  return issue.message;
}

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-shaping-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function writeFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('the operator contract', () => {
  test('the documented shaping.yaml parses as written, durations in ms and rates as count per ms', () => {
    const shaping = loadShapingFile(writeFile('shaping.yaml', OPERATOR_CONTRACT), {
      providerDefaults: false,
    });
    assert.deepEqual(shaping.defaults, { max_connections: 20, max_messages_per_connection: 100 });
    assert.deepEqual(shaping.domains['slow.test'], {
      max_connections: 2,
      max_message_rate: { count: 5, periodMs: 1000 },
    });
    assert.deepEqual(shaping.automation, [{ match: { enhanced: '4.7.28' }, action: { suspend: 120_000 } }]);
    assert.deepEqual(shaping.providers, {});
  });

  test('the same document as JSON parses to the same result', () => {
    const json = writeFile('shaping.json', JSON.stringify(YAML.parse(OPERATOR_CONTRACT)));
    const yaml = writeFile('contract.yaml', OPERATOR_CONTRACT);
    assert.deepEqual(
      loadShapingFile(json, { providerDefaults: false }),
      loadShapingFile(yaml, { providerDefaults: false }),
    );
  });

  test('every section and key of the full schema is accepted', () => {
    const shaping = parseShaping({
      defaults: {
        connect_timeout: '30s',
        greeting_timeout: '5m',
        command_timeout: '5m',
        data_timeout: '10m',
      },
      providers: { acme: { mx_suffixes: ['.acme.example'], max_connection_rate: '60/min', tls: 'verify' } },
      sites: {
        'mx1.example.net,mx2.example.net': { retry_schedule: ['1m', '1h20m'], max_queue_lifetime: '2d' },
      },
      sources: { '127.0.0.2': { ehlo_name: 'out1.example.com', max_connections: 4 } },
      pools: {
        bulk: {
          sources: [{ ip: '127.0.0.2', weight: 3 }, { ip: '::1' }],
          warmup: {
            schedule: [
              { day: 1, daily_cap: 50 },
              { day: 2, daily_cap: 100 },
            ],
          },
        },
      },
      automation: [
        {
          match: { code: 421, text: 'try again later' },
          threshold: { count: 3, within: '1h' },
          action: { slow_to: '10/min', for: '30m' },
        },
        { match: { text: '\\[TSS04\\]' }, action: { suspend_source: '2h' } },
      ],
    });
    assert.deepEqual(shaping.sites['mx1.example.net,mx2.example.net']?.retry_schedule, [60_000, 4_800_000]);
    assert.deepEqual(shaping.pools.bulk?.sources, [
      { ip: '127.0.0.2', weight: 3 },
      { ip: '::1', weight: 1 },
    ]);
    assert.deepEqual(shaping.automation[0]?.action, {
      slow_to: { count: 10, periodMs: 60_000 },
      for: 1_800_000,
    });
    assert.equal(shaping.sources['127.0.0.2']?.ehlo_name, 'out1.example.com');
    assert.ok(Object.isFrozen(shaping.providers.acme));
  });

  test('an empty section (all of it commented out) means nothing there', () => {
    const shaping = parseShaping(YAML.parse('defaults:\ndomains:\n'));
    assert.deepEqual(shaping.defaults, {});
    assert.deepEqual(shaping.domains, {});
  });
});

describe('errors name the exact key path', () => {
  test('a misspelt limit under a domain is an unknown key with the closest known key suggested', () => {
    const err = shapingError({ domains: { 'slow.test': { max_conections: 2 } } });
    const message = issueAt(err, 'domains["slow.test"].max_conections');
    assert.match(
      message,
      /^unknown key \(not a known key of domains\["slow\.test"\]\); did you mean max_connections\?$/,
    );
    assert.match(err.message, /^shaping\.yaml: domains\["slow\.test"\]\.max_conections: unknown key/m);
  });

  test('an unknown top-level section suggests the known one', () => {
    assert.match(issueAt(shapingError({ domain: {} }), 'domain'), /did you mean domains\?/);
  });

  test('a rate with an unknown unit names its path and the accepted form', () => {
    const err = shapingError({ domains: { 'slow.test': { max_message_rate: '5/fortnight' } } });
    const message = issueAt(err, 'domains["slow.test"].max_message_rate');
    assert.match(
      message,
      /expected a rate like 300\/min \(a whole number per s, min, h or d\), got "5\/fortnight" \(unknown unit "fortnight"\)/,
    );
  });

  test('a rate of zero is refused', () => {
    const err = shapingError({ defaults: { max_connection_rate: '0/min' } });
    assert.match(issueAt(err, 'defaults.max_connection_rate'), /count must be a positive integer/);
  });

  test('a regex that does not compile names the rule and gives the reason', () => {
    const err = shapingError({ automation: [{ match: { text: 'deferred (' }, action: { suspend: '1h' } }] });
    const message = issueAt(err, 'automation[0].match.text');
    assert.match(message, /^expected a valid regular expression; Invalid regular expression: .*deferred \(/);
  });

  test('an automation action must be exactly one of suspend, slow_to, suspend_source', () => {
    const both = shapingError({
      automation: [{ match: { code: 421 }, action: { suspend: '1h', suspend_source: '1h' } }],
    });
    assert.match(issueAt(both, 'automation[0].action'), /exactly one of suspend, slow_to, suspend_source/);
    const stray = shapingError({
      automation: [{ match: { code: 421 }, action: { suspend: '1h', for: '1h' } }],
    });
    assert.match(issueAt(stray, 'automation[0].action'), /"for" goes with slow_to only/);
  });

  test('an automation match needs something to match and a well-formed enhanced code', () => {
    const empty = shapingError({ automation: [{ match: {}, action: { suspend: '1h' } }] });
    assert.match(issueAt(empty, 'automation[0].match'), /at least one of code, enhanced, text/);
    const bad = shapingError({ automation: [{ match: { enhanced: '4.7' }, action: { suspend: '1h' } }] });
    assert.match(issueAt(bad, 'automation[0].match.enhanced'), /like 4\.7\.28, got "4\.7"/);
  });

  test('a bad duration, tls mode and source key are each reported at their own path', () => {
    const err = shapingError({
      defaults: { data_timeout: '10 minutes', tls: 'always' },
      sources: { 'out1.example.com': { max_connections: 1 } },
    });
    assert.match(issueAt(err, 'defaults.data_timeout'), /expected a duration like 30s, 5m, 4h/);
    assert.match(
      issueAt(err, 'defaults.tls'),
      /expected one of opportunistic, require, verify, none, got "always"/,
    );
    assert.match(issueAt(err, 'sources["out1.example.com"]'), /expected a source IP address as the key/);
  });

  test('a bad dane mode is reported at its path; dane under a pool or source names where it belongs', () => {
    const err = shapingError({
      sites: { 'mx:mx.bank.test': { dane: 'dane-only' } },
      domains: { 'bank.test': { dane: true } },
      providers: { gmail: { dane: 'on' } },
      pools: { bulk: { sources: [{ ip: '192.0.2.10' }], dane: 'require' } },
      sources: { '192.0.2.10': { dane: 'off' } },
    });
    const modes = /expected one of off, opportunistic, require/;
    assert.match(issueAt(err, 'sites["mx:mx.bank.test"].dane'), modes);
    assert.match(issueAt(err, 'sites["mx:mx.bank.test"].dane'), /got "dane-only"/);
    assert.match(issueAt(err, 'domains["bank.test"].dane'), modes);
    assert.match(issueAt(err, 'providers.gmail.dane'), modes);
    const where = /dane is set per provider, site or domain/;
    assert.match(issueAt(err, 'pools.bulk.dane'), where);
    assert.match(issueAt(err, 'sources["192.0.2.10"].dane'), where);
  });

  test('dane: off, opportunistic and require parse per site, domain, provider and defaults', () => {
    const shaping = parseShaping({
      defaults: { dane: 'opportunistic' },
      providers: { broken: { mx_suffixes: ['.broken.test'], dane: 'off' } },
      sites: { 'mx:mx.bank.test': { dane: 'require' } },
      domains: { 'partner.test': { dane: 'require' } },
    });
    assert.equal(shaping.defaults.dane, 'opportunistic');
    assert.equal(shaping.providers.broken?.dane, 'off');
    assert.equal(shaping.sites['mx:mx.bank.test']?.dane, 'require');
    assert.equal(shaping.domains['partner.test']?.dane, 'require');
  });

  test('a pool source that is not an IP and a warmup whose days go backwards are reported', () => {
    const err = shapingError({
      pools: {
        bulk: {
          sources: [{ ip: 'nope' }],
          warmup: {
            schedule: [
              { day: 2, daily_cap: 10 },
              { day: 1, daily_cap: 20 },
            ],
          },
        },
      },
    });
    assert.match(issueAt(err, 'pools.bulk.sources[0].ip'), /expected an IP address/);
    assert.match(issueAt(err, 'pools.bulk.warmup.schedule[1].day'), /days must increase/);
  });

  test('file errors name the file: unknown type, unreadable and unparsable YAML', () => {
    const cases: [string, RegExp][] = [
      [writeFile('shaping.toml', ''), /unsupported file type/],
      [join(dir, 'missing.yaml'), /cannot read/],
      [writeFile('broken.yaml', 'domains: { "a": 1\n'), /cannot parse YAML/],
    ];
    for (const [path, expected] of cases) {
      assert.throws(
        () => loadShapingFile(path),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.code === 'HERALD_CONFIG_UNREADABLE' &&
          // "<file>: …", or "<file>:<line>:<column>: …" when the problem has a place in the file
          new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:\\d+:\\d+)?: `).test(err.message) &&
          expected.test(err.message),
      );
    }
  });
});
