/**
 * The dashboard switch `http.ui`: off by default; on, it needs the `api` section it reads; its
 * `open_on_loopback` is accepted only while http.listen binds loopback, and each refusal names
 * its exact key path.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, isLoopbackListen, parseConfig } from '../src/config/index.js';

function configError(input: unknown): ConfigError {
  try {
    parseConfig(input, { source: 'herald.yaml' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('http.ui config', () => {
  test('off by default, closed by default', () => {
    assert.deepEqual(parseConfig({}).http.ui, { enabled: false, open_on_loopback: false });
    const on = parseConfig({ api: {}, http: { ui: { enabled: true } } });
    assert.deepEqual(on.http.ui, { enabled: true, open_on_loopback: false });
  });

  test('enabled without an api section is refused at http.ui.enabled', () => {
    const err = configError({ http: { ui: { enabled: true } } });
    assert.match(err.message, /http\.ui\.enabled: the dashboard reads the HTTP API: add an api section/);
  });

  test('open_on_loopback is accepted on 127.0.0.0/8 and ::1, refused elsewhere at its path', () => {
    for (const listen of ['127.0.0.1:8025', '127.0.0.5:0', '[::1]:8025', 'localhost:8025'])
      assert.equal(
        parseConfig({ api: {}, http: { listen, ui: { enabled: true, open_on_loopback: true } } }).http.ui
          .open_on_loopback,
        true,
        listen,
      );
    for (const listen of ['0.0.0.0:8025', ':8025', '10.0.0.1:8025', '[::]:8025']) {
      const err = configError({ api: {}, http: { listen, ui: { enabled: true, open_on_loopback: true } } });
      assert.match(
        err.message,
        /http\.ui\.open_on_loopback: only allowed when http\.listen is loopback/,
        listen,
      );
    }
    assert.equal(isLoopbackListen('192.168.1.1:80'), false);
  });

  test('an unknown key under http.ui is refused with its path', () => {
    const err = configError({ api: {}, http: { ui: { enabled: true, open: true } } });
    assert.match(err.message, /http\.ui\.open/);
  });
});
