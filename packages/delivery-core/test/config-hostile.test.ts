import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  ConfigError,
  defaultConfig,
  loadConfigFile,
  MAX_DOCUMENT_BYTES,
  MAX_DOCUMENT_DEPTH,
  MAX_YAML_ALIASES,
  parseConfig,
} from '../src/config/index.js';
import { loadShapingFile } from '../src/shaping/index.js';
import { timeGrowth } from './fixtures/growth.js';

const scratch = mkdtempSync(join(tmpdir(), 'herald-config-hostile-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function write(name: string, content: string | Uint8Array): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

/** Loads `content` as a config file and as a shaping file, expecting the same kind of ConfigError. */
function refused(
  name: string,
  content: string | Uint8Array,
  code = 'HERALD_CONFIG_UNREADABLE',
): ConfigError[] {
  const path = write(name, content);
  return [() => loadConfigFile(path), () => loadShapingFile(path)].map((load): ConfigError => {
    try {
      load();
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.ok(err.message.startsWith(path), err.message);
      return err;
    }
    return assert.fail(`${name}: expected a ConfigError`);
  });
}

function place(err: ConfigError): [number | undefined, number | undefined] {
  return [err.issues[0]!.line, err.issues[0]!.column];
}

const deeper = MAX_DOCUMENT_DEPTH + 1;

describe('nesting', () => {
  test('deep flow nesting is refused at the line and column where it passes the limit', () => {
    for (const err of refused('flow.yaml', `a: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`)) {
      assert.match(
        err.message,
        new RegExp(
          `:1:${4 + MAX_DOCUMENT_DEPTH}: cannot parse YAML: nested more than ${MAX_DOCUMENT_DEPTH} levels`,
        ),
      );
    }
    refused('unclosed.yaml', '{a: '.repeat(50_000));
    refused('flow.json', '['.repeat(50_000), 'HERALD_CONFIG_UNREADABLE');
  });

  test('deep block nesting (indentation and "- - -") is refused with its line', () => {
    const block = Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    for (const err of refused('block.yaml', block)) assert.deepEqual(place(err), [deeper, deeper]);
    refused('dashes.yaml', `${'- '.repeat(20_000)}x\n`);
  });

  test('Herald-sized nesting is fine', () => {
    const ok = `tenants:\n  acme:\n    list_unsubscribe:\n      streams: [[bulk]]\n`;
    assert.match(
      refused('ok.yaml', ok, 'HERALD_CONFIG_INVALID')[0]!.message,
      /streams\[0\]: expected a stream name/,
    );
  });

  test('a deep or cyclic value passed to parseConfig is HERALD_CONFIG_INVALID with the path', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = { smtp: deep };
    assert.throws(
      () => parseConfig(deep, { source: 'code' }),
      (err: ConfigError) =>
        err.code === 'HERALD_CONFIG_INVALID' &&
        err.message.startsWith(`code: ${Array(MAX_DOCUMENT_DEPTH).fill('smtp').join('.')}: nested more than`),
    );
    const cycle: Record<string, unknown> = { smtp: {} };
    (cycle.smtp as Record<string, unknown>).users = [cycle];
    assert.throws(
      () => defaultConfig(cycle),
      (err: ConfigError) => err.code === 'HERALD_CONFIG_INVALID',
    );
  });
});

describe('aliases', () => {
  test('an alias to an anchor that does not exist (yet) names its place', () => {
    for (const err of refused('unresolved.yaml', 'smtp:\n  listen: *nowhere\n')) {
      assert.deepEqual(place(err), [2, 11]);
      assert.match(err.message, /not defined before it/);
    }
    refused('later.yaml', 'a: *x\nb: &x 1\n');
  });

  test('an alias inside its own anchored value (a cycle) is refused', () => {
    for (const err of refused('cycle.yaml', 'smtp: &s { users: [*s] }\n'))
      assert.match(err.message, /inside the value/);
  });

  test('an alias bomb is refused by the expanded size, and too many aliases by their count', () => {
    const levels = ['a: &a [x,x,x,x,x,x,x,x,x,x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    for (const err of refused('bomb.yaml', `${levels.join('\n')}\n`))
      assert.match(err.message, /values once its aliases are expanded/);
    const many = ['a: &a 1', ...Array.from({ length: MAX_YAML_ALIASES + 1 }, (_, i) => `k${i}: *a`)].join(
      '\n',
    );
    for (const err of refused('many.yaml', many))
      assert.match(err.message, new RegExp(`more than ${MAX_YAML_ALIASES} aliases`));
  });

  test('aliases that stay within the limits work as in YAML', () => {
    const config = loadConfigFile(
      write(
        'aliases-ok.yaml',
        'smtp:\n  trusted_networks: &net ["10.0.0.0/8"]\ntenants: { a: { sender_domains: [] } }\n',
      ),
    );
    assert.deepEqual(config.smtp.trusted_networks, ['10.0.0.0/8']);
    const shared = loadConfigFile(
      write('shared.yaml', 'smtp: { hostname: &h relay.test }\ndelivery: { ehlo_hostname: *h }\n'),
    );
    assert.equal(shared.delivery.ehlo_hostname, 'relay.test');
  });
});

describe('what is not a small UTF-8 text file', () => {
  test('a file over MAX_DOCUMENT_BYTES is refused without reading it all', () => {
    const [err] = refused('huge.yaml', `# ${'x'.repeat(MAX_DOCUMENT_BYTES)}\n`);
    assert.match(err!.message, new RegExp(`too large: more than ${MAX_DOCUMENT_BYTES} bytes`));
  });

  test('binary garbage is refused with the place of its first control character', () => {
    for (const err of refused('nul.yaml', 'smtp:\n  hostname: a\u0000b\n')) {
      assert.deepEqual(place(err), [2, 14]);
      assert.match(err.message, /binary data: control character U\+0000/);
    }
    refused('elf.yaml', Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]));
  });

  test('bytes that are not UTF-8 are refused with their line and column', () => {
    for (const err of refused('latin1.yaml', Buffer.from('smtp:\n  hostname: caf\xe9\n', 'latin1'))) {
      assert.deepEqual(place(err), [2, 16]);
      assert.match(err.message, /not UTF-8/);
    }
    refused('overlong.yaml', Uint8Array.from([0x61, 0x3a, 0x20, 0xc0, 0xaf]));
    refused('surrogate.yaml', Uint8Array.from([0x61, 0x3a, 0x20, 0xed, 0xa0, 0x80]));
  });

  test('a UTF-16 file is refused; a UTF-8 byte order mark is fine', () => {
    for (const err of refused('utf16.yaml', Buffer.from('\ufeffsmtp: {}\n', 'utf16le'))) {
      assert.match(err.message, /:1:1: not UTF-8: .*UTF-16/);
    }
    const path = write('bom.yaml', '\ufeffsmtp: { hostname: relay.test }\n');
    assert.equal(loadConfigFile(path).smtp.hostname, 'relay.test');
  });

  test('more than one document, and tags that would make other types, are refused or kept as text', () => {
    refused('two.yaml', 'smtp: {}\n---\nhttp: {}\n');
    const [err] = refused('tag.yaml', 'smtp: { hostname: !!binary aGVsbG8= }\n', 'HERALD_CONFIG_INVALID');
    assert.match(err!.message, /smtp\.hostname: expected a host name/);
  });

  test('a __proto__ key is an unknown key, not a prototype', () => {
    for (const err of refused(
      'proto.yaml',
      '__proto__: { smtp: { listen: "0.0.0.0:25" } }\n',
      'HERALD_CONFIG_INVALID',
    )) {
      assert.match(err.message, /__proto__: unknown key/);
    }
    assert.equal(({} as Record<string, unknown>).smtp, undefined);
  });
});

/** 8 times the input: linear is about 8, quadratic 64. */
const MAX_GROWTH = 32;

describe('time is linear in the size of the file', () => {
  const shapes: [string, (n: number) => string][] = [
    [
      'many keys in one mapping',
      (n) => `smtp:\n${Array.from({ length: n }, (_, i) => `  k${i}: ${i}`).join('\n')}\n`,
    ],
    [
      'duplicate keys at the end',
      (n) => `${Array.from({ length: n }, (_, i) => `k${i}: 1`).join('\n')}\nk0: 2\n`,
    ],
    ['a long flow list', (n) => `routes: [${Array(n).fill('1').join(', ')}]\n`],
    [
      'anchors each used once',
      (n) => Array.from({ length: n }, (_, i) => `a${i}: &a${i} ${i}\nb${i}: *a${i}`).join('\n'),
    ],
    [
      'deep nesting repeated',
      (n) => Array.from({ length: n / 40 }, (_, i) => `k${i}: ${'['.repeat(40)}`).join('\n'),
    ],
  ];
  for (const [name, make] of shapes) {
    test(name, () => {
      const small = write('small.yaml', make(1_000));
      const large = write('large.yaml', make(8_000));
      const load = (path: string) => () => {
        try {
          loadConfigFile(path);
        } catch (err) {
          assert.ok(err instanceof ConfigError);
        }
      };
      load(small)(); // warm up
      const ratio = timeGrowth(load(small), load(large), MAX_GROWTH);
      assert.ok(ratio < MAX_GROWTH, `${name}: 8x the input took ${ratio.toFixed(1)}x the time`);
    });
  }
});
