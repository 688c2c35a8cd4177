/**
 * Host names a bounce carries besides the recipient's domain: the ones named in a diagnostic
 * ("host mx.example.jp said: ...", a postmaster URL), the reporting MTA and the hops of the
 * bounce's own Received fields, oldest first (the host that wrote the bounce). Providers are
 * recognised by these names (providers.ts). At most MAX_HOSTS names each.
 */
import { MAX_HOSTS } from './limits.js';
import { headerAll, type MimeHeaders } from './mime.js';

const HOST_RE =
  /(?<![@a-z0-9.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![a-z0-9-]|\.[a-z0-9])/gi;
const RECEIVED_HOST_RE = /\b(?:from|by)\s+\(?([a-z0-9][a-z0-9.-]*\.[a-z]{2,24})\b/gi;
/** Names that look like host names but are file or header words. */
const NOT_A_HOST = /\.(?:html?|php|aspx?|jsp|cgi|txt|eml|pdf|js)$/i;

/** Host names in free text, lower-cased, in order, once each. */
export function hostsInText(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(HOST_RE)) {
    const name = (match[1] ?? '').toLowerCase();
    if (!NOT_A_HOST.test(name)) found.add(name);
    if (found.size >= MAX_HOSTS) break;
  }
  return [...found];
}

/** Hosts of the Received fields, oldest hop first. */
export function receivedHosts(headers: MimeHeaders): string[] {
  const found = new Set<string>();
  for (const value of [...headerAll(headers, 'received')].reverse()) {
    for (const match of value.matchAll(RECEIVED_HOST_RE)) {
      found.add((match[1] ?? '').toLowerCase());
      if (found.size >= MAX_HOSTS) return [...found];
    }
  }
  return [...found];
}
