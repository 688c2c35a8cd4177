/**
 * End to end: the `herald` command refuses a config file with an unknown or mistyped key before
 * doing anything else — `herald config check FILE` and `herald relay --config FILE` both exit
 * non-zero with a message naming the key's full path. A valid file passes (the control).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliResult, cliAvailable, runCli } from './lib/cli.js';

/** A valid config; the relay is never reached in these tests, so the Redis URL is never dialled. */
const VALID = `redis:
  url: redis://127.0.0.1:1
smtp:
  listen: 127.0.0.1:0
  trusted_networks: [127.0.0.1/32]
http:
  listen: 127.0.0.1:0
`;

const BROKEN: { name: string; yaml: string; path: string }[] = [
  {
    name: 'a mistyped key in a section',
    yaml: VALID.replace('  listen: 127.0.0.1:0\n  trusted', '  lisen: 127.0.0.1:0\n  trusted'),
    path: 'smtp.lisen',
  },
  { name: 'an unknown top-level section', yaml: `${VALID}deliverry:\n  concurrency: 5\n`, path: 'deliverry' },
  {
    name: 'redis.url and redis.cluster both given',
    yaml: VALID.replace(
      '  url: redis://127.0.0.1:1\n',
      '  url: redis://127.0.0.1:1\n  cluster: ["127.0.0.1:7001"]\n',
    ),
    path: 'redis.cluster',
  },
  {
    name: 'a mistyped key inside a list item',
    yaml: `${VALID.replace('smtp:\n', 'smtp:\n  users:\n    - username: app\n      pasword: secret\n')}`,
    path: 'smtp.users[0].pasword',
  },
];

describe('config errors name the key path', {
  skip: !cliAvailable() && 'apps/cli/src/main.ts is not there yet',
}, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-e2e-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /**
   * `herald config check` of BROKEN[i], run once: the near-miss case reads the same run as the
   * case that checks its path (a CLI process from the sources costs seconds of CPU).
   */
  const checks = new Map<number, Promise<{ file: string; result: CliResult }>>();
  const checkBroken = (i: number) => {
    let run = checks.get(i);
    if (!run) {
      run = (async () => {
        const file = join(dir, `check-${i}.yaml`);
        await writeFile(file, BROKEN[i]!.yaml);
        return { file, result: await runCli(['config', 'check', file]) };
      })();
      checks.set(i, run);
    }
    return run;
  };

  it('accepts the valid control file with `herald config check`', async () => {
    const file = join(dir, 'valid.yaml');
    await writeFile(file, VALID);
    const result = await runCli(['config', 'check', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /: ok$/m);
  });

  it('`herald config check` shows the seed nodes of a Redis Cluster config', async () => {
    const file = join(dir, 'cluster.yaml');
    await writeFile(
      file,
      VALID.replace(
        '  url: redis://127.0.0.1:1\n',
        '  cluster: ["127.0.0.1:7001", "redis://:pw-not-shown@127.0.0.1:7002"]\n',
      ),
    );
    const result = await runCli(['config', 'check', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /redis: +cluster 127\.0\.0\.1:7001, redis:\/\/:\*\*\*@127\.0\.0\.1:7002 /);
    assert.doesNotMatch(result.stdout, /pw-not-shown/);
  });

  for (const [i, broken] of BROKEN.entries()) {
    it(`\`herald config check\` exits non-zero naming ${broken.path} for ${broken.name}`, async () => {
      const { file, result } = await checkBroken(i);
      assert.equal(result.timedOut, false);
      assert.notEqual(result.code, 0);
      assert.ok(result.stderr.includes(`${broken.path}:`), `stderr names ${broken.path}:\n${result.stderr}`);
      assert.ok(result.stderr.includes(file), 'stderr names the file');
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    });

    it(`\`herald relay --config\` exits non-zero naming ${broken.path} for ${broken.name}`, async () => {
      const file = join(dir, `relay-${i}.yaml`);
      await writeFile(file, broken.yaml);
      const result = await runCli(['relay', '--config', file]);
      assert.equal(result.timedOut, false, 'the relay must refuse the file, not start');
      assert.notEqual(result.code, 0);
      assert.ok(result.stderr.includes(`${broken.path}:`), `stderr names ${broken.path}:\n${result.stderr}`);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('suggests the intended key for a near miss', async () => {
    const { result } = await checkBroken(0);
    assert.match(result.stderr, /smtp\.lisen: .*did you mean listen\?/);
  });
});
