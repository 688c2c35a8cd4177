/**
 * A same-origin mount of some API routes on another listener (the dashboard's, on the relay's
 * `http.listen`): a request whose method and path match one of the allowed routes is served by
 * the API's own fastify app (same auth, validation, rate limits and error shape); any other is
 * 404 in the API's error shape. `open` mounts (the dashboard's `http.ui.open_on_loopback`) mark
 * their requests so that one without an Authorization header is an admin caller (`keyId`
 * OPEN_CALLER_ID, rate-limited as one key); a request that presents a key is checked as usual.
 * A keyless request counts as open only when it names a loopback `Host` (`localhost`, 127.x.y.z,
 * `[::1]`, any port) and its `Origin`, if sent, is that same host: a page of another site that
 * the operator's browser opens cannot use the open mount, neither by a cross-site POST (no body,
 * so no CORS preflight) nor by DNS rebinding (its own name resolving to 127.0.0.1). Such a
 * request is checked like any other (401 without a key).
 */
import type http from 'node:http';
import { ApiError, errorBody } from './errors.js';
import type { HttpMethod } from './route.js';

export const OPEN_CALLER_ID = 'dashboard-open';

export interface MountOptions {
  /** The routes served, as declared (`/v1/sites/:site/suspend`). */
  routes: readonly { method: HttpMethod; url: string }[];
  /** Requests without a key are admin callers (only for a loopback-only listener). */
  open: boolean;
}

export type MountHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** `:param` matches one path segment (percent-encoded as sent). */
function pattern(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}$`);
}

export function createMount(
  options: MountOptions,
  route: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  openRequests: WeakSet<http.IncomingMessage>,
): MountHandler {
  const allowed = options.routes.map((r) => ({ method: r.method as string, re: pattern(r.url) }));
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (!allowed.some((r) => r.method === method && r.re.test(path))) {
      const error = new ApiError(404, 'HERALD_API_NOT_FOUND', 'no route for this method and path here');
      res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(errorBody(error)));
      return;
    }
    if (options.open && fromLoopbackPage(req)) openRequests.add(req);
    route(req, res);
  };
}

/** `localhost`, an IPv4 loopback address or `[::1]`, with an optional port. */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

/** The request names a loopback Host, and its Origin (when sent) is that host over http. */
function fromLoopbackPage(req: http.IncomingMessage): boolean {
  const host = req.headers.host;
  if (host === undefined || !LOOPBACK_HOST.test(host)) return false;
  const origin = req.headers.origin;
  return origin === undefined || origin.toLowerCase() === `http://${host.toLowerCase()}`;
}
