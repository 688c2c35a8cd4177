/**
 * Static routes (smarthosts): the `routes` schema and `matchRoute`, which picks the route for a
 * recipient domain. First match wins; "*" matches every domain; "example.com" matches exactly;
 * "*.example.com" and ".example.com" match subdomains only. Matching ignores case and a trailing dot.
 */
import { z } from 'zod';
import { comparableDomain } from '../address/index.js';
import { hostPort, oneOf, section, text } from './fields.js';

/** Port used when a route's `via` names no port. */
export const DEFAULT_ROUTE_PORT = 25;
export const TLS_MODES = ['opportunistic', 'require', 'none'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

const LABEL = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
const DOMAIN = `${LABEL}(?:\\.${LABEL})*`;
const MATCH_PATTERN = new RegExp(`^(?:\\*|(?:\\*\\.|\\.)?${DOMAIN})$`, 'i');

export const routeSchema = section({
  match: z
    .string({ error: 'expected "*", "example.com", "*.example.com" or ".example.com"' })
    .regex(MATCH_PATTERN, { error: 'expected "*", "example.com", "*.example.com" or ".example.com"' }),
  via: hostPort(DEFAULT_ROUTE_PORT),
  tls: oneOf(TLS_MODES).default('opportunistic'),
  auth: section({ username: text(), password: text() }).optional(),
});

export type Route = z.infer<typeof routeSchema>;

function canonicalDomain(domain: string): string {
  return domain.trim() === '*' ? '*' : comparableDomain(domain);
}

/** True when the route pattern covers `domain`. */
export function routeMatches(match: string, domain: string): boolean {
  const pattern = canonicalDomain(match);
  const name = canonicalDomain(domain);
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1));
  if (pattern.startsWith('.')) return name.endsWith(pattern);
  return name === pattern;
}

/** The first route whose `match` covers `domain`, or undefined (deliver via MX). */
export function matchRoute<R extends { readonly match: string }>(
  routes: readonly R[],
  domain: string,
): R | undefined {
  return routes.find((route) => routeMatches(route.match, domain));
}
