/**
 * The relay's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (Redis answers and the
 * listeners are up; 503 otherwise, so a load balancer stops sending) and `/metrics` (Prometheus),
 * served by delivery-core's health handler (the bounce-processor serves the same); `/readyz` also
 * shows the config version running and the last reload's outcome. With
 * `http.ui.enabled` (which needs an `api` section) also the dashboard (@herald/dashboard) at
 * `/ui/` and, same-origin, the HTTP API routes its pages call (DASHBOARD_ROUTES, served by the
 * API's own app through its mount: same auth, validation, rate limits and error shape); with
 * `http.ui.open_on_loopback` (the config allows it only for a loopback http.listen) those routes
 * need no key.
 */
import http from 'node:http';
import { createDashboardHandler, DASHBOARD_ROUTES } from '@herald/dashboard';
import type { Herald } from '@herald/delivery-core';
import { healthRequestHandler, probeRedisWhileListening } from '@herald/delivery-core/metrics';
import type { ApiServer } from '@herald/http-api';

/** The API's path prefix on http.listen (the mount answers 404 for any route not mounted). */
const API_PREFIX = '/v1/';

export function createHttpServer(herald: Herald, isListening: () => boolean, api?: ApiServer): http.Server {
  const deps = {
    ping: () => herald.ping(),
    isListening,
    metrics: herald.metrics,
    config: () => herald.metrics.config.status(),
  };
  const health = healthRequestHandler(deps);
  const ui = herald.config.http.ui;
  if (!ui.enabled || !api) return probeRedisWhileListening(http.createServer(health), deps);
  const dashboard = createDashboardHandler({ open: ui.open_on_loopback });
  const mounted = api.mount({ routes: DASHBOARD_ROUTES, open: ui.open_on_loopback });
  const server = http.createServer((req, res) => {
    if (dashboard(req, res)) return;
    if ((req.url ?? '').startsWith(API_PREFIX)) return mounted(req, res);
    health(req, res);
  });
  return probeRedisWhileListening(server, deps);
}
