/**
 * The relay's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (Redis answers and the
 * listeners are up; 503 otherwise, so a load balancer stops sending) and `/metrics` (Prometheus).
 */
import http from 'node:http';
import type { Herald } from '@herald/delivery-core';

export function createHttpServer(herald: Herald, isListening: () => boolean): http.Server {
  return http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    switch (url) {
      case '/healthz':
        return reply(200, 'ok\n');
      case '/readyz':
        void herald.ping().then((redisOk) => {
          const ready = redisOk && isListening();
          reply(
            ready ? 200 : 503,
            JSON.stringify({ ready, redis: redisOk, listening: isListening() }) + '\n',
            'application/json',
          );
        });
        return;
      case '/metrics':
        void herald.metrics.metrics().then(
          (text) => reply(200, text, herald.metrics.registry.contentType),
          (err: Error) => reply(500, `metrics failed: ${err.message}\n`),
        );
        return;
      default:
        return reply(404, 'not found\n');
    }
  });
}
