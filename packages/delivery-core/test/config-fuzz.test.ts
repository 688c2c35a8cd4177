import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import YAML from 'yaml';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/index.js';
import { loadShapingFile, parseShaping } from '../src/shaping/index.js';
import {
  awkwardMarker,
  EXAMPLE_CONFIGS,
  EXAMPLE_SHAPING,
  FUZZ_SEED,
  leaked,
  marker,
  mutate,
  mutations,
  secretConfig,
  secretsOfText,
  secretsOfValue,
} from './fixtures/config-fuzz.js';

const scratch = mkdtempSync(join(tmpdir(), 'herald-config-fuzz-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const SOURCE = 'fuzz.yaml';
const RUNS = { seed: FUZZ_SEED, numRuns: 300 };

/** Runs `load`; anything thrown must be a ConfigError whose every line names `source`. */
function outcome(load: () => unknown, source: string): ConfigError | undefined {
  try {
    load();
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${String(err)}`, { cause: err });
    assert.ok(err.code === 'HERALD_CONFIG_INVALID' || err.code === 'HERALD_CONFIG_UNREADABLE');
    assert.ok(err.issues.length > 0);
    for (const line of err.message.split('\n')) {
      assert.ok(line.startsWith(`${source}: `) || line.startsWith(`${source}:`), line);
      assert.match(line.slice(source.length), /^(: [^ ]|:\d+:\d+: )/, line);
    }
    return err;
  }
}

function assertNoLeak(err: ConfigError | undefined, secrets: readonly string[]): void {
  if (!err) return;
  const shown = leaked(`${err.message}\n${JSON.stringify(err.issues)}`, secrets);
  assert.deepEqual(shown, [], `secrets in: ${err.message}`);
}

/** The example configs as values, with the placeholder VERP secret of the dev config. */
const EXAMPLE_VALUES = EXAMPLE_CONFIGS.map((text) => YAML.parse(text) as Record<string, unknown>);

/** Every path to a value in a plain value (mapping keys and list indexes). */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
}

function setAt(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<
    string | number,
    unknown
  >;
  copy[path[0]!] = setAt(copy[path[0]!], path.slice(1), value);
  return copy;
}

describe('parseConfig on arbitrary values', () => {
  test('any JSON value: a config or a ConfigError naming the source', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        outcome(() => parseConfig(value, { source: SOURCE }), SOURCE);
      }),
      RUNS,
    );
  });

  test('config-shaped values with random changes and markers in every secret slot leak no secret', () => {
    const changed = fc
      .tuple(
        fc.constantFrom(...EXAMPLE_VALUES, YAML.parse(secretConfig(Array(8).fill('x')))),
        fc.array(marker, { minLength: 8, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.oneof(fc.jsonValue({ maxDepth: 3 }), awkwardMarker, marker)), {
          maxLength: 4,
        }),
        fc.boolean(),
      )
      .map(([base, markers, edits, withSecrets]) => {
        let value: unknown = withSecrets ? { ...base, ...YAML.parse(secretConfig(markers)) } : base;
        for (const [at, replacement] of edits) {
          const paths = pathsOf(value);
          value = setAt(value, paths[at % paths.length]!, replacement);
        }
        return value;
      });
    fc.assert(
      fc.property(changed, fc.option(marker, { nil: undefined }), (value, redisPassword) => {
        const env = redisPassword === undefined ? {} : { REDIS_URL: `redis://:${redisPassword} @h` };
        const secrets = [...secretsOfValue(value), ...(redisPassword ? [redisPassword] : [])];
        assertNoLeak(
          outcome(() => parseConfig(value, { source: SOURCE, env }), SOURCE),
          secrets,
        );
      }),
      RUNS,
    );
  });
});

describe('loadConfigFile on arbitrary and mutated text', () => {
  let n = 0;
  const file = (text: string | Uint8Array, extension = '.yaml') => {
    const path = join(scratch, `f${n++ % 4}${extension}`);
    writeFileSync(path, text);
    return path;
  };

  test('arbitrary text and bytes: a config or a ConfigError naming the file', () => {
    const texts = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({
        unit: fc.constantFrom('[', ']', '{', '}', ':', ' ', '\n', '-', 'a', '*', '&', '"', ',', '?', '!'),
        maxLength: 300,
      }),
      fc.uint8Array({ maxLength: 300 }),
    );
    fc.assert(
      fc.property(texts, fc.constantFrom('.yaml', '.json'), (text, extension) => {
        const path = file(text, extension);
        outcome(() => loadConfigFile(path), path);
      }),
      RUNS,
    );
  });

  test('mutated example configs and fixtures: a config or a ConfigError naming the file', () => {
    fc.assert(
      fc.property(fc.constantFrom(...EXAMPLE_CONFIGS), mutations, (text, list) => {
        const path = file(mutate(text, list));
        outcome(() => loadConfigFile(path), path);
      }),
      RUNS,
    );
  });

  test('mutated configs with markers in every secret slot: no secret in any error', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(marker, awkwardMarker), { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        mutations,
        (markers, flow, list) => {
          const text = mutate(secretConfig(markers, flow), list);
          const path = file(text, flow ? '.json' : '.yaml');
          const err = outcome(() => loadConfigFile(path), path);
          // A file that cannot be parsed shows none of itself; a parsed one no string of a secret key.
          assertNoLeak(
            err,
            err?.code === 'HERALD_CONFIG_UNREADABLE' ? markers : secretsOfText(text, markers),
          );
        },
      ),
      RUNS,
    );
  });
});

describe('the shaping file loader', () => {
  const example = [
    'defaults: { max_connections: 10, max_message_rate: "100/s" }',
    'domains:',
    '  slow.test: { max_connections: 2, retry_schedule: ["1m", "5m"] }',
    'automation:',
    '  - { match: { enhanced: "4.7.650" }, action: { suspend_source: "1h" } }',
    '',
  ].join('\n');

  test('any JSON value: shaping or a ConfigError naming the source', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        outcome(() => parseShaping(value, { source: SOURCE }), SOURCE);
      }),
      RUNS,
    );
  });

  test('mutated shaping files: shaping or a ConfigError naming the file', () => {
    const path = join(scratch, 'shaping.yaml');
    fc.assert(
      fc.property(fc.constantFrom(example, ...EXAMPLE_SHAPING), mutations, (text, list) => {
        writeFileSync(path, mutate(text, list));
        outcome(() => loadShapingFile(path, { providerDefaults: false }), path);
      }),
      { ...RUNS, numRuns: 200 },
    );
  });
});
