import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../src/config/index.js';

/** Parses `input` expecting a ConfigError, and returns it. */
function configError(input: unknown, source = 'herald.yaml'): ConfigError {
  try {
    parseConfig(input, { source });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'HERALD_CONFIG_INVALID');
    return err;
  }
  assert.fail('expected parseConfig to throw');
}

function issueAt(err: ConfigError, path: string): string {
  const issue = err.issues.find((i) => i.path === path);
  assert.ok(issue, `no issue at ${path}; issues: ${err.message}`);
  return issue.message;
}

describe('unknown keys', () => {
  test('a misspelt key is named by its full path, called unknown, with the closest known key', () => {
    const err = configError({ smtp: { lisen: '127.0.0.1:2525' } });
    assert.match(err.message, /^herald\.yaml: smtp\.lisen: unknown key/m);
    assert.match(issueAt(err, 'smtp.lisen'), /not a known key of smtp\); did you mean listen\?/);
  });

  test('list items show their index in the path', () => {
    const err = configError({
      smtp: {
        users: [
          { username: 'a', password: 'b' },
          { username: 'c', pasword: 'd' },
        ],
      },
    });
    assert.match(issueAt(err, 'smtp.users[1].pasword'), /unknown key.*did you mean password\?/);
    assert.match(err.message, /^herald\.yaml: smtp\.users\[1\]\.pasword: unknown key/m);
  });

  test('keys in routes and nested sections are checked too', () => {
    const err = configError({
      routes: [{ match: '*', via: 'h', tsl: 'none' }],
      smtp: { tls: { certfile: 'x' } },
    });
    assert.match(issueAt(err, 'routes[0].tsl'), /did you mean tls\?/);
    assert.match(issueAt(err, 'smtp.tls.certfile'), /did you mean cert_file\?/);
  });

  test('a key far from every known key gets the list of known keys instead of a guess', () => {
    const message = issueAt(configError({ paperclip: {} }), 'paperclip');
    assert.doesNotMatch(message, /did you mean/);
    assert.match(
      message,
      /known keys: node_id, redis, smtp, http, api, dns, routes, delivery, retry, events, queue, shaping, bounce, accounting, tls_reporting, telemetry, scanning, quarantine, behaviour, tenants, dkim, webhooks, roles/,
    );
  });

  test('each unknown key is its own issue and its own line', () => {
    const err = configError({ smtp: { lisen: 1, hostnme: 'x' } });
    assert.deepEqual(err.issues.map((i) => i.path).sort(), ['smtp.hostnme', 'smtp.lisen']);
    assert.equal(err.message.split('\n').length, 2);
  });
});

describe('wrong types and values', () => {
  test('a wrong type names the path and the expected type', () => {
    const err = configError({ delivery: { max_connections_per_host: 'many' } });
    assert.match(err.message, /^herald\.yaml: delivery\.max_connections_per_host: expected integer >= 1/m);
    assert.equal(issueAt(err, 'delivery.max_connections_per_host'), 'expected integer >= 1, got "many"');
  });

  test('out-of-range numbers say the allowed range', () => {
    assert.match(issueAt(configError({ delivery: { port: 70000 } }), 'delivery.port'), /between 1 and 65535/);
    assert.match(issueAt(configError({ retry: { jitter: 1.5 } }), 'retry.jitter'), /between 0 and 1/);
    assert.match(issueAt(configError({ dns: { attempts: 1.5 } }), 'dns.attempts'), /expected integer >= 1/);
  });

  test('a bad duration names the path and shows the expected form', () => {
    for (const bad of ['30 seconds', '30', '5x', true, -5]) {
      const message = issueAt(
        configError({ delivery: { connect_timeout: bad } }),
        'delivery.connect_timeout',
      );
      assert.match(message, /expected a duration like 30s, 5m, 4h/);
    }
    assert.match(
      issueAt(configError({ retry: { schedule: ['5m', 'soon'] } }), 'retry.schedule[1]'),
      /30s, 5m, 4h/,
    );
  });

  test('a zero duration is refused for timeouts', () => {
    assert.match(issueAt(configError({ dns: { timeout: '0s' } }), 'dns.timeout'), /greater than 0/);
  });

  test('a bad size names the path and the accepted forms', () => {
    const message = issueAt(configError({ smtp: { max_message_size: '25 megs' } }), 'smtp.max_message_size');
    assert.match(message, /512KB, 25MB, 10MiB/);
  });

  test('enums list their values', () => {
    const message = issueAt(configError({ delivery: { tls: 'yes' } }), 'delivery.tls');
    assert.equal(message, 'expected one of opportunistic, require, none, got "yes"');
    assert.match(
      issueAt(configError({ events: { log_level: 'verbose' } }), 'events.log_level'),
      /fatal, error/,
    );
  });

  test('a section of the wrong type says a mapping was expected', () => {
    assert.match(issueAt(configError({ smtp: 'yes' }), 'smtp'), /expected a mapping/);
    assert.match(issueAt(configError(['smtp']), ''), /expected a mapping/);
    assert.match(configError(5).message, /^herald\.yaml: expected a mapping/);
  });

  test('addresses, networks and routes are validated', () => {
    assert.match(issueAt(configError({ smtp: { listen: '127.0.0.1' } }), 'smtp.listen'), /port missing/);
    assert.match(
      issueAt(configError({ dns: { servers: ['::1]:53'] } }), 'dns.servers[0]'),
      /host or host:port/,
    );
    const nets = configError({ smtp: { trusted_networks: ['10.0.0.0/8', '10.0.0.0/40', 'office'] } });
    assert.match(issueAt(nets, 'smtp.trusted_networks[1]'), /prefix length/);
    assert.match(issueAt(nets, 'smtp.trusted_networks[2]'), /CIDR/);
    assert.match(
      issueAt(configError({ routes: [{ match: 'exa mple', via: 'h' }] }), 'routes[0].match'),
      /\*\.example/,
    );
    assert.match(issueAt(configError({ routes: [{ match: '*' }] }), 'routes[0].via'), /missing/);
  });

  test("a user's tenant (given, or its username) must be a tenant name the CLI and the API can name", () => {
    const given = configError({
      smtp: { users: [{ username: 'app', password: 'pw-123456', tenant: 'Acme Shop' }] },
    });
    assert.match(issueAt(given, 'smtp.users[0].tenant'), /expected a tenant name \(letters, digits/);
    const byName = configError({ smtp: { users: [{ username: 'app@origin.test', password: 'pw-123456' }] } });
    assert.match(
      issueAt(byName, 'smtp.users[0].tenant'),
      /the username is not a tenant name.*give this user a tenant/,
    );
    const fine = parseConfig({
      smtp: { users: [{ username: 'app@origin.test', password: 'pw-123456', tenant: 'acme.shop' }] },
    });
    assert.equal(fine.smtp.users[0]!.tenant, 'acme.shop');
  });

  test('a user needs exactly one of password and password_hash', () => {
    assert.match(
      issueAt(configError({ smtp: { users: [{ username: 'a' }] } }), 'smtp.users[0]'),
      /exactly one/,
    );
    const both = {
      username: 'a',
      password: 'x',
      password_hash: 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$',
    };
    assert.match(issueAt(configError({ smtp: { users: [both] } }), 'smtp.users[0]'), /exactly one/);
  });

  test('a malformed password_hash is refused without echoing it', () => {
    const err = configError({ smtp: { users: [{ username: 'a', password_hash: 'hunter2' }] } });
    assert.match(issueAt(err, 'smtp.users[0].password_hash'), /herald hash-password/);
    assert.doesNotMatch(err.message, /hunter2/);
  });

  test('a password of the wrong type is reported by type, not value', () => {
    const err = configError({ smtp: { users: [{ username: 'a', password: 123456 }] } });
    assert.match(issueAt(err, 'smtp.users[0].password'), /got number/);
    assert.doesNotMatch(err.message, /123456/);
  });

  test('TLS cert_file and key_file come together', () => {
    assert.match(issueAt(configError({ smtp: { tls: { cert_file: 'a.pem' } } }), 'smtp.tls'), /together/);
  });

  test('roles must be a non-empty list of distinct known roles', () => {
    assert.match(issueAt(configError({ roles: [] }), 'roles'), /at least one role/);
    assert.match(issueAt(configError({ roles: ['smtp', 'smtp'] }), 'roles'), /once/);
    assert.match(issueAt(configError({ roles: ['mta'] }), 'roles[0]'), /smtp, worker, http/);
  });

  test('without a source the lines start with the path', () => {
    try {
      parseConfig({ smtp: { lisen: 1 } });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^smtp\.lisen: unknown key/);
    }
  });
});

describe('smtp users', () => {
  test('the same username twice is an error at the second one, never a silent override', () => {
    const err = configError({
      smtp: {
        users: [
          { username: 'app', password: 'one-secret' },
          { username: 'app', password: 'two-secret' },
        ],
      },
    });
    assert.match(issueAt(err, 'smtp.users[1].username'), /same username as users\[0\]/);
    assert.doesNotMatch(err.message, /one-secret|two-secret/);
  });

  test('usernames equal once lower-cased (one behaviour account) are an error at the second one', () => {
    for (const [a, b] of [
      ['Dave', 'dave'],
      ['kelvin', '\u212Aelvin'], // the Kelvin sign lower-cases to k
    ] as const) {
      const err = configError({
        smtp: {
          users: [
            { username: 'other', password: 'zero-secret' },
            { username: a, password: 'one-secret' },
            { username: b, password: 'two-secret' },
          ],
        },
      });
      assert.match(issueAt(err, 'smtp.users[2].username'), /same username as users\[1\] once lower-cased/);
      assert.doesNotMatch(err.message, /zero-secret|one-secret|two-secret/);
    }
    const err = configError({
      smtp: {
        users: [
          { username: 'Dave', password: 'one-secret' },
          { username: 'dave', password: 'two-secret' },
        ],
      },
    });
    assert.match(issueAt(err, 'smtp.users[1].username'), /users\[0\]/);
  });
});

describe('webhook endpoints', () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const endpoint = (events: string[], id?: string) => ({
    ...(id === undefined ? {} : { id }),
    tenant: 'acme',
    url: 'https://hooks.example.test/in',
    events,
    secret,
  });

  test('two entries for the same tenant and url without ids are refused, naming both', () => {
    const err = configError({ webhooks: [endpoint(['bounced']), endpoint(['delivered'])] });
    assert.match(
      issueAt(err, 'webhooks[1].url'),
      /same tenant and url as webhooks\[0\].*merge them into one entry, or give each its own id/,
    );
    assert.doesNotMatch(err.message, new RegExp(secret.slice(6, 20)));
  });

  test('with explicit ids the same tenant and url are two endpoints', () => {
    const config = parseConfig({
      webhooks: [endpoint(['bounced'], 'ops'), endpoint(['delivered'], 'crm'), endpoint(['expired'])],
    });
    assert.deepEqual(
      config.webhooks.map((w) => w.id),
      ['ops', 'crm', undefined],
    );
  });
});
