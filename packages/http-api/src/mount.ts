/**
 * A same-origin mount of some API routes on another listener (the dashboard's, on the relay's
 * `http.listen`): a request whose method and path match one of the allowed routes is served by
 * the API's own fastify app (same auth, validation, rate limits and error shape); any other is
 * 404 in the API's error shape. `open` mounts (the dashboard's `http.ui.open_on_loopback`) mark
 * their requests so that one without an Authorization header is an admin caller (`keyId`
 * OPEN_CALLER_ID, rate-limited as one key); a request that presents a key is checked as usual.
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
      const error = new ApiError(
        404,
        'HERALD_API_NOT_FOUND',
        `no route ${req.method} ${path.slice(0, 200)} here`,
      );
      res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(errorBody(error)));
      return;
    }
    if (options.open) openRequests.add(req);
    route(req, res);
  };
}
