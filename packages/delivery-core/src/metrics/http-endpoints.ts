/**
 * The HTTP endpoints every Herald daemon serves (the relay on `http.listen`, the bounce-processor
 * on `bounce.http_listen`): `GET /healthz` answers `200 ok` while the process runs; `GET /readyz`
 * answers 200 with `{"ready":true,"redis":true,"listening":true}` (and, when given, `config`: the
 * version running, reloads, the last one's outcome) when Redis answers and the
 * daemon's listener is up, 503 otherwise (so a load balancer stops sending); `GET /metrics` is the
 * Prometheus text of the given registry. Other paths are 404, other methods 405. While it
 * listens it probes Redis every REDIS_PROBE_INTERVAL_MS (one PING at a time, bounded by the ping's
 * own deadline) into `herald_redis_ping_duration_seconds` and `herald_redis_up`, so Redis latency
 * is measured by every process that exports metrics. Needs injected: a Redis ping, whether the
 * listener is up, and the metrics.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ConfigStatus } from './config-metrics.js';
import type { HeraldMetrics } from './index.js';

/** How often a daemon with HTTP endpoints times a Redis PING for its metrics. */
export const REDIS_PROBE_INTERVAL_MS = 5_000;

export interface HealthEndpointsDeps {
  /** True when Redis answers (PING). */
  ping(): Promise<boolean>;
  /** True when the daemon's own listener is up (or it has none to wait for). */
  isListening(): boolean;
  metrics: Pick<HeraldMetrics, 'metrics' | 'registry'> & Partial<Pick<HeraldMetrics, 'operator'>>;
  /** The config version running and its last reload, shown on `/readyz` (config-metrics.ts). */
  config?: () => ConfigStatus;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';

export function createHealthEndpoints(deps: HealthEndpointsDeps): http.Server {
  return probeRedisWhileListening(http.createServer(healthRequestHandler(deps)), deps);
}

/** The same endpoints as a request handler, for a server that serves more paths (the relay's dashboard). */
export function healthRequestHandler(
  deps: HealthEndpointsDeps,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = TEXT) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    switch (url) {
      case '/healthz':
        return reply(200, 'ok\n');
      case '/readyz':
        void deps.ping().then((redisOk) => {
          const listening = deps.isListening();
          const ready = redisOk && listening;
          const config = deps.config?.();
          const body = { ready, redis: redisOk, listening, ...(config ? { config } : {}) };
          reply(ready ? 200 : 503, `${JSON.stringify(body)}\n`, JSON_TYPE);
        });
        return;
      case '/metrics':
        void deps.metrics.metrics().then(
          (text) => reply(200, text, deps.metrics.registry.contentType),
          (err: Error) => reply(500, `metrics failed: ${err.message}\n`),
        );
        return;
      default:
        return reply(404, 'not found\n');
    }
  };
}

/**
 * While `server` listens, times a Redis PING every REDIS_PROBE_INTERVAL_MS (one at a time) into
 * the operator metrics, when `deps.metrics` has them; returns the server.
 */
export function probeRedisWhileListening(server: http.Server, deps: HealthEndpointsDeps): http.Server {
  const operator = deps.metrics.operator;
  if (operator) {
    let timer: NodeJS.Timeout | undefined;
    let probing = false;
    const probe = async () => {
      if (probing) return;
      probing = true;
      const started = performance.now();
      const up = await deps.ping().catch(() => false);
      if (up) operator.redisPing.observe((performance.now() - started) / 1000);
      operator.redisUp.set(up ? 1 : 0);
      probing = false;
    };
    server.on('listening', () => {
      void probe();
      timer = setInterval(() => void probe(), REDIS_PROBE_INTERVAL_MS);
      timer.unref();
    });
    server.on('close', () => clearInterval(timer));
  }
  return server;
}
