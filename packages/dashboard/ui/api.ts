/**
 * The dashboard's one door to Herald: same-origin requests to the HTTP API routes the relay
 * mounts on http.listen (src/routes.ts), with the admin key from sessionStorage as a Bearer
 * token (none when the relay opens the dashboard on loopback). A 401 is an AuthNeeded the app
 * answers with the key form; any other error carries the API's error message.
 */
const KEY_STORAGE = 'herald.adminKey';

export class AuthNeeded extends Error {}
/** Dispatched on window when the API answers 401: the app shows the key form. */
export const AUTH_NEEDED_EVENT = 'herald:auth-needed';

export const adminKey = {
  get: (): string | null => sessionStorage.getItem(KEY_STORAGE),
  set: (key: string) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

export async function api<T>(
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  const key = adminKey.get();
  if (key) headers.authorization = `Bearer ${key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (res.status === 401) {
    window.dispatchEvent(new Event(AUTH_NEEDED_EVENT));
    throw new AuthNeeded('an admin key is needed');
  }
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body as T;
}

/** Whether the relay asks for a key (false: http.ui.open_on_loopback). */
export async function keyNeeded(): Promise<boolean> {
  const res = await fetch('/ui/access.json');
  return ((await res.json()) as { key_needed: boolean }).key_needed;
}

/** /readyz of the same listener: Redis health and the SMTP listener. */
export async function readiness(): Promise<{ ready: boolean; redis: boolean; listening: boolean }> {
  const res = await fetch('/readyz');
  return res.json();
}

export interface Activity {
  from: number;
  since: number | null;
  minutes: {
    minute: number;
    accepted: number;
    delivered: number;
    deferred: number;
    bounced: number;
    expired: number;
  }[];
  bounce_reasons: { minute: number; reasons: Record<string, number> }[];
  top_reasons_by_domain: { domain: string; bounced: number; reasons: { reason: string; count: number }[] }[];
  scanned: number;
  truncated: boolean;
}

export interface Site {
  site: string;
  queue: { ready: number; scheduled: number; in_flight: number; oldest_age_ms: number };
  state: 'active' | 'suspended' | 'slowed';
  suspended_until: string | null;
  slowed: { rate: string; until: string } | null;
  limits: {
    max_connections: number;
    initial_connections: number;
    max_messages_per_connection: number;
    max_message_rate: string | null;
    max_connection_rate: string | null;
    layers: string[];
  };
}

export interface Sites {
  sites: Site[];
  totals: { ready: number; scheduled: number; in_flight: number };
  truncated: boolean;
}

export interface Tenant {
  tenant: string;
  window_ms: number;
  min_volume: number;
  accepted: number;
  hard_bounces: number;
  complaints: number;
  bounce_rate: number;
  complaint_rate: number;
  bounce_rate_threshold: number;
  complaint_rate_threshold: number;
  paused: { reason: string; since: string } | null;
}

export interface Reply {
  code: number;
  enhanced?: string;
  text: string;
  stage: string;
}

export interface Story {
  id: string;
  tenant: string;
  from: string;
  recipients: {
    address: string;
    state: string;
    attempts: number;
    reply?: Reply;
    waiting?: { reason: string; until?: number };
  }[];
  attempts: {
    time: number;
    domain?: string;
    host?: { hostname: string; address: string; port: number; tls: boolean };
    results: { address: string; accepted: boolean; reply: Reply }[];
  }[];
}
