/**
 * The relay's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (Redis answers and the
 * listeners are up; 503 otherwise, so a load balancer stops sending) and `/metrics` (Prometheus),
 * served by delivery-core's createHealthEndpoints (the bounce-processor serves the same).
 */
import type http from 'node:http';
import type { Herald } from '@herald/delivery-core';
import { createHealthEndpoints } from '@herald/delivery-core/metrics';

export function createHttpServer(herald: Herald, isListening: () => boolean): http.Server {
  return createHealthEndpoints({ ping: () => herald.ping(), isListening, metrics: herald.metrics });
}
