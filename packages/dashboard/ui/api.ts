/**
 * The dashboard's one door to Herald: same-origin requests to the HTTP API routes the relay
 * mounts on http.listen (src/routes.ts), with the admin key from sessionStorage as a Bearer
 * token (none when the relay opens the dashboard on loopback). A 401 is an AuthNeeded the app
 * answers with the key form; any other error carries the API's error message. The answers'
 * types are the HTTP API's own (`@herald/http-api/responses`, a type-only import).
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

/**
 * The answers' types come from the HTTP API's response schemas (one source: a changed answer
 * fails this type-check); type-only, so nothing of the API's package is bundled.
 */
export type {
  Activity,
  RecipientMessages,
  Reply,
  Site,
  SiteReply,
  Sites,
  Story,
  TenantStatus as Tenant,
  Tenants,
} from '@herald/http-api/responses';
