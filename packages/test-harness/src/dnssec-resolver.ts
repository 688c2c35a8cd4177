/**
 * A DNSSEC-validating resolver on loopback for DANE tests: Debian's `unbound`, with zones signed
 * by `ldns-keygen` / `ldns-signzone` (ldnsutils) at start.
 *
 * Each zone is loaded as an unbound `auth-zone` with `for-upstream: yes, for-downstream: no`: its
 * data is treated as if fetched from the zone's authoritative server and goes through unbound's
 * validator, never answered as local data. A signed zone's KSK DS is configured as its trust
 * anchor, so its answers come back with AD (or SERVFAIL when `tamper` broke a signature: bogus);
 * an unsigned zone has no anchor and answers without AD (insecure). Nothing leaves loopback: no
 * root hints are used for names in the zones, and the tests ask for nothing else.
 *
 * Owns: the unbound process (started by PID, tracked so it dies with the test process, stopped
 * by `close()` with SIGTERM to that PID), its config and the zone files in a temporary folder.
 * Needs: /usr/sbin/unbound and ldns-keygen / ldns-signzone (`apt-get install unbound ldnsutils`).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, LOOPBACK_HOST, trackChild } from '@herald/local-redis';
import dnsPacket from 'dns-packet';
import { daemonCloser, stopDaemon } from './daemon.js';

export interface TestZone {
  /** The apex, e.g. "good.test". */
  name: string;
  /** Master-file lines relative to the apex ("mx A 127.0.0.3", "@ MX 10 mx"); SOA and NS are added. */
  records: string[];
  /** Sign it (a trust anchor is configured); default true. */
  signed?: boolean;
  /** Edits the signed zone text after signing (e.g. change a TLSA record: its RRSIG no longer holds). */
  tamper?: (signed: string) => string;
}

export interface ValidatingResolverHandle {
  host: string;
  port: number;
  /** "127.0.0.1:PORT", for dns.servers and delivery.dane.resolver. */
  address: string;
  pid: number;
  close(): Promise<void>;
}

export const UNBOUND_PATH = '/usr/sbin/unbound';
const ZONE_TTL_S = 300;
const KEY_ALGORITHM = 'ECDSAP256SHA256';
const TOOL_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 100;
const PROBE_TIMEOUT_MS = 500;

const run = promisify(execFile);

async function tool(dir: string, command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd: dir, timeout: TOOL_TIMEOUT_MS });
    return stdout.trim();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${command} is missing: apt-get install -y unbound ldnsutils`);
    throw new Error(`${command} failed: ${e.stderr ?? e.message}`);
  }
}

function zoneText(zone: TestZone): string {
  const apex = `${zone.name}.`;
  return [
    `$ORIGIN ${apex}`,
    `$TTL ${ZONE_TTL_S}`,
    `@ IN SOA ns.${apex} hostmaster.${apex} 1 3600 600 86400 ${ZONE_TTL_S}`,
    `@ IN NS ns.${apex}`,
    `ns IN A ${LOOPBACK_HOST}`,
    ...zone.records,
    '',
  ].join('\n');
}

/** Writes the zone file (signed when asked); returns its path and, when signed, its trust anchor. */
async function prepareZone(dir: string, zone: TestZone): Promise<{ file: string; anchor?: string }> {
  const file = join(dir, `${zone.name}.zone`);
  await writeFile(file, zoneText(zone));
  if (zone.signed === false) return { file };
  const ksk = await tool(dir, 'ldns-keygen', ['-a', KEY_ALGORITHM, '-k', zone.name]);
  const zsk = await tool(dir, 'ldns-keygen', ['-a', KEY_ALGORITHM, zone.name]);
  await tool(dir, 'ldns-signzone', ['-f', `${file}.signed`, file, ksk, zsk]);
  if (zone.tamper) await writeFile(`${file}.signed`, zone.tamper(await readFile(`${file}.signed`, 'utf8')));
  const ds = (await readFile(join(dir, `${ksk}.ds`), 'utf8')).trim().split(/\s+/);
  // "name. IN DS tag alg digesttype digest" (the TTL may be absent).
  const anchor = [ds[0], ...ds.slice(ds.indexOf('DS'))].join(' ');
  return { file: `${file}.signed`, anchor };
}

function unboundConfig(dir: string, port: number, zones: { name: string; file: string; anchor?: string }[]) {
  const lines = [
    'server:',
    `  interface: ${LOOPBACK_HOST}`,
    `  port: ${port}`,
    '  do-daemonize: no',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    '  pidfile: ""',
    '  use-syslog: no',
    `  logfile: "${join(dir, 'unbound.log')}"`,
    '  verbosity: 1',
    '  do-ip6: no',
    '  module-config: "validator iterator"',
    `  access-control: ${LOOPBACK_HOST}/32 allow`,
    '  trust-anchor-signaling: no',
    '  root-key-sentinel: no',
    // unbound answers RFC 6761 names such as test. itself unless told not to.
    '  local-zone: "test." nodefault',
    ...zones.flatMap((z) => (z.anchor ? [`  trust-anchor: "${z.anchor}"`] : [])),
  ];
  for (const z of zones) {
    lines.push('auth-zone:', `  name: "${z.name}."`, `  zonefile: "${z.file}"`);
    lines.push('  for-downstream: no', '  for-upstream: yes', '  fallback-enabled: no');
  }
  return `${lines.join('\n')}\n`;
}

/** True when the server answers a query for `name` SOA within PROBE_TIMEOUT_MS. */
function answers(port: number, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => finish(false), PROBE_TIMEOUT_MS);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    socket.on('error', () => finish(false));
    socket.on('message', () => finish(true));
    const query = dnsPacket.encode({
      type: 'query',
      id: 1,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type: 'SOA', class: 'IN' }],
    });
    socket.send(query, port, LOOPBACK_HOST);
  });
}

export async function startValidatingResolver(opts: {
  zones: TestZone[];
}): Promise<ValidatingResolverHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-unbound-'));
  let child: ChildProcess | undefined;
  try {
    const zones = [];
    for (const zone of opts.zones) zones.push({ name: zone.name, ...(await prepareZone(dir, zone)) });
    const port = await freePort();
    const config = join(dir, 'unbound.conf');
    await writeFile(config, unboundConfig(dir, port, zones));
    child = spawn(UNBOUND_PATH, ['-d', '-c', config], { stdio: 'ignore' });
    const started = child;
    trackChild(started, 'unbound');
    const exited = new Promise<never>((_, reject) =>
      started.once('exit', (code) =>
        reject(new Error(`unbound exited (${code}); see ${join(dir, 'unbound.log')}`)),
      ),
    );
    exited.catch(() => {});
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const probe = opts.zones[0]?.name ?? '.';
    for (;;) {
      if (await Promise.race([answers(port, probe), exited])) break;
      if (Date.now() > deadline) throw new Error(`unbound did not answer within ${READY_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
    return {
      host: LOOPBACK_HOST,
      port,
      address: `${LOOPBACK_HOST}:${port}`,
      pid: started.pid!,
      close: daemonCloser(started, dir),
    };
  } catch (err) {
    if (child) await stopDaemon(child);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
