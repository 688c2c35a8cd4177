/**
 * End to end: live reload of a real relay (a child process running `runRelay`, two delivery
 * threads, a private Redis, loopback DNS and an SMTP sink). SIGHUP while an authenticated session
 * is open and deliveries run: the session survives and keeps sending, the site's new limits are
 * what the relay's API reports (`GET /v1/sites`), the config version changes on `/readyz` and in
 * `herald_config_info`, each delivery thread runs the new version, the removed user's next AUTH
 * fails while the new user's works, and mail after the reload is signed with the new DKIM key.
 * Then an invalid shaping file, reloaded with `herald config reload --pid --http`: the CLI exits 1
 * naming the key path, the running config is kept, the failure metric is set and the log names
 * the key path without quoting a secret.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HeraldConfigInput } from '@herald/delivery-core';
import { siteForMxHosts } from '@herald/delivery-core/sites';
import { deferrer } from './lib/cleanup.js';
import { runCli } from './lib/cli.js';
import { sampleMessage } from './lib/message.js';
import { spawnRelay } from './lib/relay-process.js';
import { SmtpClient } from './lib/smtp-client.js';
import { mxZone, startParts } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const DOMAIN = 'reload.test';
const SITE = siteForMxHosts([`mx1.${DOMAIN}`]).site;
const ADMIN_KEY = 'config-reload-admin-key-0123456789';
const ALICE = { user: 'alice', pass: 'alice-password-before' };
const BOB = { user: 'bob', pass: 'bob-password-after-reload' };
const DELIVERY_THREADS = 2;
/** Messages sent on the open session before the reload, so deliveries run across it. */
const BEFORE = 6;

interface ReadyBody {
  ready: boolean;
  config: {
    hash: string;
    reloads: number;
    failures: number;
    lastReload?: { ok: boolean; needsRestart: string[]; error?: string };
    threads?: { thread: number; ok: boolean; hash: string }[];
  };
}

function shapingYaml(maxConnections: string, rate: string): string {
  return `sites:\n  "${SITE}": { ${maxConnections}: 2, max_message_rate: "${rate}" }\n`;
}

describe('live config reload', () => {
  it('SIGHUP applies new shaping, users and DKIM keys without dropping a session; an invalid file keeps the running config', {
    timeout: 120_000,
  }, async (t) => {
    const defer = deferrer(t);
    const parts = await startParts({ zone: mxZone(DOMAIN, [{ preference: 10, address: '127.0.0.2' }]) });
    defer(() => parts.stop());
    const sink = parts.sinks[0]!;
    const dir = await mkdtemp(join(tmpdir(), 'herald-reload-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const shapingFile = join(dir, 'shaping.yaml');
    await writeFile(shapingFile, shapingYaml('max_connections', '50/s'));
    const keyFiles = [join(dir, 'k1.pem'), join(dir, 'k2.pem')];
    for (const file of keyFiles) {
      const { privateKey } = generateKeyPairSync('ed25519');
      await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    }
    const configOf = (over: {
      user: typeof ALICE;
      selector: string;
      keyFile: string;
      concurrency?: number;
    }) =>
      parts.config({
        shaping: { file: shapingFile },
        smtp: { trusted_networks: [], users: [{ username: over.user.user, password: over.user.pass }] },
        dkim: [{ domain: 'origin.test', selector: over.selector, key_file: over.keyFile, always: true }],
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        delivery: {
          threads: DELIVERY_THREADS,
          ...(over.concurrency ? { concurrency: over.concurrency } : {}),
        },
        events: { log_level: 'info' },
      } as HeraldConfigInput);

    const relay = await spawnRelay(configOf({ user: ALICE, selector: 's1', keyFile: keyFiles[0]! }));
    defer(() => relay.stop());
    const httpBase = `http://${relay.http!.host}:${relay.http!.port}`;
    const apiBase = `http://${relay.api!.host}:${relay.api!.port}`;
    const ready = async () => (await (await fetch(`${httpBase}/readyz`)).json()) as ReadyBody;
    const metrics = async () => (await fetch(`${httpBase}/metrics`)).text();
    const siteLimits = async () => {
      const res = await fetch(`${apiBase}/v1/sites?site=${encodeURIComponent(SITE)}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { sites: { site: string; limits: Record<string, unknown> }[] };
      return body.sites.find((s) => s.site === SITE)!.limits;
    };
    const sighupAndWait = async (reloads: number) => {
      // SIGHUP, as an operator's `kill -HUP`.
      process.kill(relay.pid, 'SIGHUP');
      return waitUntil(`reload ${reloads} answered on /readyz`, async () => {
        const body = await ready();
        return body.config.reloads === reloads ? body : undefined;
      });
    };

    const before = await ready();
    assert.match(before.config.hash, /^[0-9a-f]{12}$/);
    assert.match(await metrics(), new RegExp(`herald_config_info\\{hash="${before.config.hash}"\\} 1`));
    assert.equal((await siteLimits()).max_connections, 2);

    const session = await SmtpClient.connect({ host: relay.smtp.host, port: relay.smtp.port });
    defer(async () => session.close());
    assert.ok((await session.login(ALICE)).ok, 'alice logs in before the reload');
    for (let i = 0; i < BEFORE; i++) {
      const sent = await session.send(
        { from: 'a@origin.test', to: [`r${i}@${DOMAIN}`] },
        sampleMessage({ subject: 'reload' }),
      );
      assert.equal(sent.code, 250, sent.response);
    }

    // The reload while those deliveries run: new limits, bob instead of alice, selector s2's key.
    await writeFile(shapingFile, shapingYaml('max_connections', '20/s').replace(': 2,', ': 5,'));
    await writeFile(
      relay.configPath,
      JSON.stringify(configOf({ user: BOB, selector: 's2', keyFile: keyFiles[1]!, concurrency: 11 })),
    );
    const reloaded = await sighupAndWait(1);
    assert.equal(reloaded.config.lastReload?.ok, true);
    assert.notEqual(reloaded.config.hash, before.config.hash, 'the config version changed');
    assert.deepEqual(reloaded.config.lastReload?.needsRestart, ['delivery.concurrency']);
    const after = await metrics();
    assert.match(after, new RegExp(`herald_config_info\\{hash="${reloaded.config.hash}"\\} 1`));
    assert.doesNotMatch(after, new RegExp(`hash="${before.config.hash}"`), 'only the running version');
    assert.match(after, /herald_config_last_reload_success 1/);
    const limits = await siteLimits();
    assert.equal(limits.max_connections, 5, 'the new limit is in force');
    assert.equal(limits.max_message_rate, '20/s');
    await waitUntil('every delivery thread answered with the new version', () => {
      const lines = relay
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"config reloaded"'));
      return lines.filter((l) => l.includes(`"hash":"${reloaded.config.hash}"`)).length ===
        DELIVERY_THREADS + 1
        ? true
        : undefined;
    });
    assert.doesNotMatch(relay.output(), /runs another config version/);
    const threadVersions = Array.from({ length: DELIVERY_THREADS }, (_, thread) => ({
      thread,
      ok: true,
      hash: reloaded.config.hash,
    }));
    await waitUntil('/readyz shows the version each delivery thread runs', async () => {
      const { threads } = (await ready()).config;
      return JSON.stringify(threads) === JSON.stringify(threadVersions) ? true : undefined;
    });

    // The session opened before the reload is still there and still sends.
    const late = await session.send(
      { from: 'a@origin.test', to: [`late@${DOMAIN}`] },
      sampleMessage({ subject: 'reload' }),
    );
    assert.equal(late.code, 250, late.response);
    const received = await sink.waitForMessages(BEFORE + 1, 30_000);
    const lateMail = received.find((m) => m.to.includes(`late@${DOMAIN}`))!;
    assert.match(lateMail.raw.toString(), /DKIM-Signature:[\s\S]*?\bs=s2;/, 'signed with the new key');
    assert.ok(
      received
        .filter((m) => !m.to.includes(`late@${DOMAIN}`))
        .every((m) => /\bs=s[12];/.test(m.raw.toString())),
    );

    const bob = await SmtpClient.connect({ host: relay.smtp.host, port: relay.smtp.port });
    defer(async () => bob.close());
    assert.ok((await bob.login(BOB)).ok, 'the new user logs in');
    const alice = await SmtpClient.connect({ host: relay.smtp.host, port: relay.smtp.port });
    defer(async () => alice.close());
    assert.equal((await alice.login(ALICE)).code, 535, 'the removed user does not');

    // An invalid shaping file: refused, the running config kept, the failure visible.
    await writeFile(shapingFile, shapingYaml('max_conections', '1/s'));
    // This time through the CLI: `herald config reload --pid PID --http URL` waits for the outcome.
    const cli = await runCli(['config', 'reload', '--pid', String(relay.pid), '--http', httpBase]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(
      cli.stderr,
      /HERALD_RELOAD_FAILED: reload refused, running [0-9a-f]{12} kept: .*max_conections/,
    );
    const refused = await ready();
    assert.equal(refused.config.reloads, 2);
    assert.equal(refused.config.lastReload?.ok, false);
    assert.equal(refused.config.hash, reloaded.config.hash, 'the running version is kept');
    assert.match(refused.config.lastReload?.error ?? '', /max_conections/);
    const failed = await metrics();
    assert.match(failed, /herald_config_reload_failures_total 1/);
    assert.match(failed, /herald_config_last_reload_success 0/);
    assert.equal((await siteLimits()).max_connections, 5, 'the limits in force are unchanged');
    const log = relay.output();
    assert.ok(
      log.split('\n').some((l) => l.includes('config reload refused') && l.includes('max_conections')),
      'the log names the key path',
    );
    assert.ok(!log.includes(BOB.pass) && !log.includes(ALICE.pass), 'no password in the log');

    // The old session still works after both reloads.
    const last = await session.send(
      { from: 'a@origin.test', to: [`last@${DOMAIN}`] },
      sampleMessage({ subject: 'reload' }),
    );
    assert.equal(last.code, 250, last.response);
    await sink.waitForMessages(BEFORE + 2, 30_000);
  });
});
