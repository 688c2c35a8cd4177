/**
 * Nameserver addresses: parsing "host[:port]" strings and reading /etc/resolv.conf.
 *
 * Owns: the syntax of a nameserver entry. Guarantees: a parsed server has an IP literal host
 * (nameservers cannot be names — there would be nobody to resolve them) and a port in 1..65535;
 * bad entries raise HeraldError HERALD_CONFIG_INVALID. Needs: nothing (the resolv.conf path is
 * a parameter).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { HeraldError } from '../errors/index.js';
import type { NameServer } from './types.js';

export const DNS_PORT = 53;
export const RESOLV_CONF_PATH = '/etc/resolv.conf';
/** What glibc uses when resolv.conf names no nameserver. */
export const FALLBACK_NAMESERVER = '127.0.0.1';
const MAX_PORT = 65535;

/** True for an IPv4 or IPv6 literal (no brackets, no port). */
export function isIpAddress(s: string): boolean {
  return net.isIP(s) !== 0;
}

function invalid(server: string, why: string): HeraldError {
  return new HeraldError('HERALD_CONFIG_INVALID', `invalid DNS server "${server}": ${why}`);
}

function parsePort(server: string, text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) throw invalid(server, `bad port "${text}"`);
  return port;
}

/**
 * Parses "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]" or "[::1]:5353" (port defaults to 53).
 * Throws HeraldError HERALD_CONFIG_INVALID for anything else.
 */
export function parseServer(server: string): NameServer {
  const s = server.trim();
  let host: string;
  let port = DNS_PORT;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = parsePort(server, bracketed[2]);
  } else if (s.split(':').length > 2) {
    host = s; // bare IPv6 without a port
  } else {
    const [h = '', p] = s.split(':');
    host = h;
    if (p !== undefined) port = parsePort(server, p);
  }
  if (!isIpAddress(host)) throw invalid(server, 'the host must be an IPv4 or IPv6 address');
  return { host, port };
}

/** "host:port" with IPv6 bracketed, the inverse of parseServer. */
export function formatServer(server: NameServer): string {
  return net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/**
 * The `nameserver` entries of a resolv.conf file, in order. A missing or unreadable file, or one
 * without nameservers, yields [FALLBACK_NAMESERVER] as the C library would.
 */
export function readSystemNameservers(path: string = RESOLV_CONF_PATH): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [FALLBACK_NAMESERVER];
  }
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const [keyword, value] = line
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (keyword === 'nameserver' && value && isIpAddress(value.split('%')[0] ?? '')) servers.push(value);
  }
  return servers.length > 0 ? servers : [FALLBACK_NAMESERVER];
}
