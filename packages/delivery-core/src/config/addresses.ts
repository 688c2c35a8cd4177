/**
 * Host and port strings in configuration: listen addresses ("127.0.0.1:2525", "[::1]:25", ":2525")
 * and remote endpoints ("host", "host:port", "[v6]:port"). Pure parsing; throws RangeError with a
 * message fit for a config issue.
 */
import { isIP } from 'node:net';

/** Host a listener binds when the address gives only ":port". */
export const ANY_IPV4_HOST = '0.0.0.0';
export const MAX_PORT = 65535;

/** Letters, digits, dots, hyphens and underscores: a DNS name (loosely) or an IPv4 literal. */
const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/;

function parsePort(text: string, whole: string, min: number): number {
  if (!/^\d{1,5}$/.test(text)) throw new RangeError(`invalid port in ${JSON.stringify(whole)}`);
  const port = Number(text);
  if (port < min || port > MAX_PORT) {
    throw new RangeError(`port in ${JSON.stringify(whole)} must be between ${min} and ${MAX_PORT}`);
  }
  return port;
}

function checkHost(host: string, whole: string, bracketed: boolean): string {
  if (bracketed) {
    if (isIP(host) !== 6) throw new RangeError(`${JSON.stringify(whole)}: [${host}] is not an IPv6 address`);
    return host;
  }
  if (isIP(host) !== 0 || HOST_NAME.test(host)) return host;
  throw new RangeError(`${JSON.stringify(whole)}: ${JSON.stringify(host)} is not a host name or IP address`);
}

/** Splits "[v6]:port", "[v6]", "host:port", "host" or a bare IPv6 address into host and port text. */
function split(s: string): { host: string; port: string | undefined; bracketed: boolean } {
  // "user:password@host:port" (a URL habit) is not an address: say so rather than take the colons
  // for an IPv6 address. The caller's error masks what precedes the '@' (config/secrets.ts).
  if (s.includes('@')) {
    throw new RangeError(
      `${JSON.stringify(s)}: an address takes no user or password (a smarthost's AUTH goes in routes[].auth)`,
    );
  }
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new RangeError(`${JSON.stringify(s)}: missing "]"`);
    const rest = s.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new RangeError(`${JSON.stringify(s)}: junk after "]"`);
    return { host: s.slice(1, close), port: rest === '' ? undefined : rest.slice(1), bracketed: true };
  }
  if (isIP(s) === 6) return { host: s, port: undefined, bracketed: false };
  const colon = s.lastIndexOf(':');
  if (colon < 0) return { host: s, port: undefined, bracketed: false };
  if (s.indexOf(':') !== colon) {
    throw new RangeError(`${JSON.stringify(s)}: write IPv6 addresses with a port as [address]:port`);
  }
  return { host: s.slice(0, colon), port: s.slice(colon + 1), bracketed: false };
}

/**
 * Parses a listen address: "127.0.0.1:2525", "[::1]:25", "localhost:2525", or ":2525" (all IPv4
 * interfaces). The port is required; 0 asks the OS for a free port.
 */
export function parseListen(s: string): { host: string; port: number } {
  if (typeof s !== 'string') throw new RangeError('expected a listen address like 127.0.0.1:2525');
  const text = s.trim();
  const { host, port, bracketed } = split(text);
  if (port === undefined) {
    throw new RangeError(`${JSON.stringify(s)}: port missing (write host:port, [v6]:port or :port)`);
  }
  const portNumber = parsePort(port, s, 0);
  if (host === '' && !bracketed) return { host: ANY_IPV4_HOST, port: portNumber };
  return { host: checkHost(host, s, bracketed), port: portNumber };
}

/** Parses "host", "host:port", "[v6]:port", "[v6]" or a bare IPv6 address; port 1–65535. */
export function parseHostPort(s: string, defaultPort: number): { host: string; port: number } {
  if (typeof s !== 'string') throw new RangeError('expected host or host:port');
  const text = s.trim();
  const { host, port, bracketed } = split(text);
  if (host === '') throw new RangeError(`${JSON.stringify(s)}: host missing`);
  return {
    host: checkHost(host, s, bracketed),
    port: port === undefined ? defaultPort : parsePort(port, s, 1),
  };
}
