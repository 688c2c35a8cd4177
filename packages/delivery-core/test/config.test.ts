import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  defaultConfig,
  type HeraldConfig,
  loadConfigFile,
  parseConfig,
} from '../src/config/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const scratch = mkdtempSync(join(tmpdir(), 'herald-config-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function writeScratch(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

function assertContract(config: HeraldConfig): void {
  assert.equal(config.redis.url, 'redis://127.0.0.1:6379');
  assert.equal(config.smtp.listen, '127.0.0.1:2525');
  assert.deepEqual(config.smtp.users, [{ username: 'app', password: 'secret', tenant: 'app' }]);
  assert.deepEqual(config.smtp.trusted_networks, []);
  assert.equal(config.http.listen, '127.0.0.1:8025');
  assert.deepEqual(config.dns.servers, ['127.0.0.1:5353']);
  assert.deepEqual(config.routes, [{ match: '*', via: '127.0.0.1:2526', tls: 'opportunistic' }]);
}

describe('the operator contract file', () => {
  test('parses as written from YAML', () => {
    assertContract(loadConfigFile(fixture('config-contract.yaml')));
  });

  test('parses as written from the equivalent JSON, to the same config', () => {
    const fromJson = loadConfigFile(fixture('config-contract.json'));
    assertContract(fromJson);
    assert.deepEqual(fromJson, loadConfigFile(fixture('config-contract.yaml')));
  });
});

describe('defaults', () => {
  test('an empty config gets every documented default, durations in ms and sizes in bytes', () => {
    const config = defaultConfig();
    assert.equal(config.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(config.redis.prefix, 'herald');
    assert.equal(config.smtp.listen, '127.0.0.1:2525');
    assert.equal(config.smtp.max_message_size, 25 * 1024 * 1024);
    assert.equal(config.smtp.socket_timeout, 5 * MINUTE);
    assert.equal(config.smtp.require_auth_tls, true);
    assert.deepEqual(config.smtp.plaintext_auth_networks, ['127.0.0.0/8', '::1/128']);
    assert.equal(config.smtp.data_timeout, 10 * MINUTE);
    assert.equal(config.smtp.redis_timeout, 3000);
    assert.deepEqual(config.smtp.client_limits.exceptions, ['127.0.0.0/8', '::1/128']);
    assert.deepEqual(
      defaultConfig({ smtp: { trusted_networks: ['10.0.0.0/8'] } }).smtp.client_limits.exceptions,
      ['10.0.0.0/8', '127.0.0.0/8', '::1/128'],
      'the per-client limits exempt trusted_networks and loopback unless told otherwise',
    );
    assert.deepEqual(config.smtp.tls, { self_signed: false });
    assert.deepEqual(config.http, {
      listen: '127.0.0.1:8025',
      enabled: true,
      ui: { enabled: false, open_on_loopback: false },
    });
    assert.deepEqual(config.dns, { servers: [], timeout: 2000, attempts: 3, cache_size: 10000 });
    assert.equal(config.delivery.concurrency, 200);
    assert.equal(config.delivery.port, 25);
    assert.equal(config.delivery.connect_timeout, 30_000);
    assert.equal(config.delivery.data_timeout, 10 * MINUTE);
    assert.equal(config.delivery.idle_timeout, 5000);
    assert.equal(config.delivery.tls, 'opportunistic');
    assert.deepEqual(
      config.retry.schedule,
      [5, 10, 20, 40, 80, 120, 240].map((m) => m * MINUTE),
    );
    assert.equal(config.retry.jitter, 0.2);
    assert.equal(config.retry.max_queue_lifetime, 5 * 24 * HOUR);
    assert.deepEqual(config.events, {
      stream_max_len: 100000,
      trace_retention: 3600 * 1000,
      trace_max_entries: 1000,
      log_level: 'info',
    });
    assert.deepEqual(config.roles, ['smtp', 'worker', 'http']);
  });

  test('delivery.ehlo_hostname defaults to smtp.hostname', () => {
    assert.equal(
      defaultConfig({ smtp: { hostname: 'mx.example.test' } }).delivery.ehlo_hostname,
      'mx.example.test',
    );
    const both = defaultConfig({ smtp: { hostname: 'a.test' }, delivery: { ehlo_hostname: 'b.test' } });
    assert.equal(both.delivery.ehlo_hostname, 'b.test');
  });

  test('defaultConfig applies overrides and accepts milliseconds for durations', () => {
    const config = defaultConfig({
      delivery: { port: 2526, connect_timeout: 1500 },
      redis: { prefix: 't1' },
    });
    assert.equal(config.delivery.port, 2526);
    assert.equal(config.delivery.connect_timeout, 1500);
    assert.equal(config.redis.prefix, 't1');
    assert.equal(config.redis.url, 'redis://127.0.0.1:6379');
  });

  test('a parsed config parses again to itself', () => {
    const config = defaultConfig({ smtp: { users: [{ username: 'u', password: 'p' }] } });
    assert.deepEqual(parseConfig(config), config);
  });

  test('a user tenant defaults to the username', () => {
    const config = defaultConfig({
      smtp: {
        users: [
          { username: 'a', password: 'x' },
          { username: 'b', password: 'y', tenant: 'shop' },
        ],
      },
    });
    assert.deepEqual(
      config.smtp.users.map((u) => u.tenant),
      ['a', 'shop'],
    );
  });
});

describe('values with units', () => {
  test('durations in the file, including compounds like 1h20m, become milliseconds', () => {
    const config = parseConfig({
      dns: { timeout: '250ms' },
      retry: { schedule: ['30s', '1h20m', '1d12h'], max_queue_lifetime: '2d' },
    });
    assert.equal(config.dns.timeout, 250);
    assert.deepEqual(config.retry.schedule, [30_000, 80 * MINUTE, 36 * HOUR]);
    assert.equal(config.retry.max_queue_lifetime, 48 * HOUR);
  });

  test('max_message_size accepts bytes and 25MB, 10MiB, 512KB', () => {
    const size = (v: unknown) => parseConfig({ smtp: { max_message_size: v } }).smtp.max_message_size;
    assert.equal(size(1000), 1000);
    assert.equal(size('25MB'), 25_000_000);
    assert.equal(size('10MiB'), 10 * 1024 * 1024);
    assert.equal(size('512KB'), 512_000);
  });
});

describe('environment', () => {
  test('REDIS_URL from opts.env overrides redis.url', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6390/2' };
    assert.equal(parseConfig({ redis: { url: 'redis://127.0.0.1:6379' } }, { env }).redis.url, env.REDIS_URL);
    assert.equal(parseConfig({}, { env }).redis.url, env.REDIS_URL);
    assert.equal(loadConfigFile(fixture('config-contract.yaml'), { env }).redis.url, env.REDIS_URL);
  });

  test('an empty REDIS_URL is ignored and process.env is not read unless passed', () => {
    assert.equal(parseConfig({}, { env: { REDIS_URL: '' } }).redis.url, 'redis://127.0.0.1:6379');
    const saved = process.env.REDIS_URL;
    process.env.REDIS_URL = 'redis://127.0.0.1:1';
    try {
      assert.equal(parseConfig({}).redis.url, 'redis://127.0.0.1:6379');
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
    }
  });

  test('an invalid REDIS_URL is reported as coming from the environment', () => {
    assert.throws(
      () => parseConfig({}, { env: { REDIS_URL: 'http://x' } }),
      (err: ConfigError) => /redis\.url: .*\(from REDIS_URL\)/.test(err.message),
    );
  });
});

describe('the parsed config', () => {
  test('is deeply frozen', () => {
    const config = loadConfigFile(fixture('config-contract.yaml')) as unknown as Record<
      string,
      Record<string, unknown>
    >;
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.smtp));
    assert.ok(Object.isFrozen(config.smtp!.users));
    assert.throws(() => {
      config.smtp!.listen = '0.0.0.0:25';
    }, TypeError);
  });
});

describe('loading files', () => {
  test('relative TLS file paths are resolved against the config file folder', () => {
    const path = writeScratch(
      'tls.yml',
      'smtp:\n  tls: { cert_file: "certs/a.pem", key_file: "/etc/herald/a.key" }\n',
    );
    const { tls } = loadConfigFile(path).smtp;
    assert.equal(tls.cert_file, join(scratch, 'certs', 'a.pem'));
    assert.equal(tls.key_file, '/etc/herald/a.key');
  });

  test('shaping.file, dkim[].key_file and delivery.mta_sts.ca_file are resolved against the config folder too', () => {
    const path = writeScratch(
      'files.yml',
      [
        'shaping: { file: "shaping.yaml" }',
        'dkim: [{ domain: "s.test", selector: "s1", key_file: "keys/s.pem" }]',
        'delivery: { mta_sts: { ca_file: "ca.pem" } }',
        '',
      ].join('\n'),
    );
    // Parsing alone (the shaping file and key are read later, by createHerald).
    const config = loadConfigFile(path);
    assert.equal(config.shaping.file, join(scratch, 'shaping.yaml'));
    assert.equal(config.dkim[0]!.key_file, join(scratch, 'keys', 's.pem'));
    assert.equal(config.delivery.mta_sts.ca_file, join(scratch, 'ca.pem'));
  });

  test('an empty file and empty sections mean all defaults', () => {
    assert.deepEqual(loadConfigFile(writeScratch('empty.yaml', '# nothing\n')), defaultConfig());
    const sections = loadConfigFile(writeScratch('sections.yaml', 'smtp:\ndelivery:\n'));
    assert.deepEqual(sections, defaultConfig());
  });

  test('a missing file is HERALD_CONFIG_UNREADABLE naming the file', () => {
    const path = join(scratch, 'absent.yaml');
    assert.throws(
      () => loadConfigFile(path),
      (err: ConfigError) =>
        err instanceof ConfigError &&
        err.code === 'HERALD_CONFIG_UNREADABLE' &&
        err.message.startsWith(`${path}: `),
    );
  });

  test('a YAML syntax error or duplicate key is HERALD_CONFIG_UNREADABLE', () => {
    for (const text of ['smtp: { listen: [\n', 'smtp: {}\nsmtp: {}\n']) {
      const path = writeScratch('broken.yaml', text);
      assert.throws(
        () => loadConfigFile(path),
        (err: ConfigError) =>
          err.code === 'HERALD_CONFIG_UNREADABLE' && err.message.includes('cannot parse YAML'),
      );
    }
  });

  test('an unsupported extension is refused', () => {
    const path = writeScratch('herald.toml', 'x = 1\n');
    assert.throws(
      () => loadConfigFile(path),
      (err: ConfigError) => err.code === 'HERALD_CONFIG_UNREADABLE',
    );
  });

  test('validation errors in a file are HERALD_CONFIG_INVALID and name the file on each line', () => {
    const path = fixture('config-typo.yaml');
    assert.throws(
      () => loadConfigFile(path),
      (err: ConfigError) => {
        assert.equal(err.code, 'HERALD_CONFIG_INVALID');
        const lines = err.message.split('\n');
        assert.equal(lines.length, err.issues.length);
        for (const line of lines) assert.ok(line.startsWith(`${path}: `), line);
        return true;
      },
    );
  });
});
