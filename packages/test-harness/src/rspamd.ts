/**
 * A private rspamd (Debian's `rspamd`) for tests: one normal worker on a free loopback port, a
 * config of its own in a temp dir (no modules that need the network or Redis, DNS pointed at a
 * closed loopback port, a four-entry TLD list and no hyperscan so it starts in about a second),
 * GTUBE honoured for every sender (`gtube_patterns = "all"`: outbound mail too), and one test
 * symbol, HERALD_TEST_SCORE, that scores a message by its `X-Herald-Test-Score` header so a test
 * picks any score. Ready when `/ping` answers; stopped by signalling its process group (its PID).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, LOOPBACK_HOST, trackChild } from '@herald/local-redis';
import { daemonCloser, stopDaemon } from './daemon.js';

export const RSPAMD_PATH = '/usr/bin/rspamd';
/** The header HERALD_TEST_SCORE reads: the message scores its value. */
export const TEST_SCORE_HEADER = 'X-Herald-Test-Score';
/** The GTUBE string: rspamd answers it with its reject score. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
/** rspamd's own reject score here (GTUBE scores it). */
export const RSPAMD_REJECT_SCORE = 15;
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;

export interface RspamdHandle {
  /** `http://127.0.0.1:<port>`, the normal worker (config scanning.rspamd.url). */
  url: string;
  port: number;
  pid: number;
  close(): Promise<void>;
}

const TEST_RULES = `
rspamd_config:register_symbol({
  name = 'HERALD_TEST_SCORE',
  score = 1.0,
  callback = function(task)
    local value = task:get_header('${TEST_SCORE_HEADER}')
    local n = value and tonumber(value)
    if n then return true, n, value end
    return false
  end,
})
`;

function rspamdConfig(dir: string, port: number): string {
  return `options {
  pidfile = "${dir}/rspamd.pid";
  dbdir = "${dir}/db";
  tempdir = "${dir}";
  hs_cache_dir = "${dir}/hs";
  local_addrs = [];
  dns { nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }
  gtube_patterns = "all";
  url_tld = "${dir}/tld.dat";
  disable_hyperscan = true;
}
logging { type = "file"; filename = "${dir}/rspamd.log"; level = "warning"; }
worker "normal" { bind_socket = "${LOOPBACK_HOST}:${port}"; count = 1; }
actions { reject = ${RSPAMD_REJECT_SCORE}; add_header = 6; greylist = 4; }
lua = "${dir}/test-rules.lua";
`;
}

async function pings(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).trim() === 'pong';
  } catch {
    return false;
  }
}

export async function startRspamd(): Promise<RspamdHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-rspamd-'));
  let child: ChildProcess | undefined;
  try {
    await mkdir(join(dir, 'db'));
    await mkdir(join(dir, 'hs'));
    await writeFile(join(dir, 'tld.dat'), 'com\nnet\norg\ntest\n');
    await writeFile(join(dir, 'test-rules.lua'), TEST_RULES);
    const port = await freePort();
    const config = join(dir, 'rspamd.conf');
    await writeFile(config, rspamdConfig(dir, port));
    const asRoot = process.getuid?.() === 0 ? ['-u', 'root', '-g', 'root'] : [];
    child = spawn(RSPAMD_PATH, ['-f', ...asRoot, '-c', config], { stdio: 'ignore', detached: true });
    const started = child;
    trackChild(started, 'rspamd');
    const exited = new Promise<never>((_, reject) =>
      started.once('exit', (code) =>
        reject(new Error(`rspamd exited (${code}); see ${join(dir, 'rspamd.log')}`)),
      ),
    );
    exited.catch(() => {});
    const url = `http://${LOOPBACK_HOST}:${port}`;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (await Promise.race([pings(url), exited])) break;
      if (Date.now() > deadline) throw new Error(`rspamd did not answer within ${READY_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
    return {
      url,
      port,
      pid: started.pid as number,
      close: daemonCloser(started, dir, { group: true }),
    };
  } catch (err) {
    if (child) await stopDaemon(child, { group: true });
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
