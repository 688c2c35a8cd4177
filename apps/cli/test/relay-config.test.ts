import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findNpmStartConfig, isHeraldCheckout, ownCheckout } from '../src/relay-config.js';

/** A scratch tree: <base>/.herald/herald.yaml planted above <base>/herald, a Herald checkout. */
describe('which npm start config a maintenance command trusts', () => {
  let base: string;
  let checkout: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'herald-planted-'));
    checkout = join(base, 'herald');
    await mkdir(join(checkout, 'apps', 'cli'), { recursive: true });
    await writeFile(
      join(checkout, 'package.json'),
      JSON.stringify({ name: 'herald', workspaces: ['apps/*'] }),
    );
    await mkdir(join(base, '.herald'));
    await writeFile(
      join(base, '.herald', 'herald.yaml'),
      'redis: { url: "redis://:evil@127.0.0.1:6498" }\n',
      {
        mode: 0o600,
      },
    );
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('never a file above the checkout, and nothing outside a checkout', () => {
    assert.equal(findNpmStartConfig(join(checkout, 'apps', 'cli'), checkout), undefined);
    assert.equal(findNpmStartConfig(base, checkout), undefined, 'cwd above the checkout');
    assert.equal(
      findNpmStartConfig(join(checkout, 'apps'), base),
      undefined,
      'base is not a Herald checkout',
    );
    assert.equal(
      findNpmStartConfig(join(checkout, 'apps'), undefined),
      undefined,
      'CLI installed as a package',
    );
  });

  it("the checkout's own file, only while no one else can write it", async () => {
    const file = join(checkout, '.herald', 'herald.yaml');
    await mkdir(join(checkout, '.herald'));
    await writeFile(file, 'redis: { url: "redis://127.0.0.1:6390" }\n', { mode: 0o600 });
    assert.deepEqual(findNpmStartConfig(join(checkout, 'apps', 'cli'), checkout), { file });
    await chmod(file, 0o620);
    assert.deepEqual(findNpmStartConfig(checkout, checkout), { file, ignored: 'group- or world-writable' });
    await chmod(file, 0o602);
    assert.deepEqual(findNpmStartConfig(checkout, checkout), { file, ignored: 'group- or world-writable' });
    await rm(file);
  });

  it('the CLI run from this repository knows its checkout', () => {
    const root = resolve(import.meta.dirname, '../../..');
    assert.equal(ownCheckout(), root);
    assert.equal(isHeraldCheckout(root), true);
    assert.equal(isHeraldCheckout(join(root, 'apps', 'cli')), false);
  });
});

describe('text printed for a person', () => {
  it('shows control characters escaped: no cursor moves, screen clears or retitling', async () => {
    const { printable, printableField } = await import('../src/terminal-text.js');
    assert.equal(printableField('\x1b]0;PWNED\x07x@e.test'), '\\x1b]0;PWNED\\x07x@e.test');
    assert.equal(printableField('a\tb\nc\r\x7f\u009b\u2028'), 'a\\x09b\\x0ac\\x0d\\x7f\\x9b\\u{2028}');
    assert.equal(printable('col\tcol\n\x1b[2Jrow\n'), 'col\tcol\n\\x1b[2Jrow\n');
    assert.equal(printableField('ü@exämple.test'), 'ü@exämple.test');
  });

  it('shows bidi, zero-width and other format characters escaped as \\u{…}', async () => {
    const { printable, printableField } = await import('../src/terminal-text.js');
    const format = [0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069, 0xfeff];
    for (const code of format) {
      const char = String.fromCodePoint(code);
      const shown = `\\u{${code.toString(16)}}`;
      assert.equal(printable(`a${char}b\n`), `a${shown}b\n`);
      assert.equal(printableField(`a${char}b`), `a${shown}b`);
    }
    assert.equal(printable('evil\u202etxt.exe\n'), 'evil\\u{202e}txt.exe\n');
    assert.equal(printableField('\u2030\u2065\u206a'), '\u2030\u2065\u206a');
  });
});
