/**
 * What an admitted attempt is told of its lane's effective limits (delivery's AttemptLimits):
 * messages and connections per session, the lane's current connection window across relays, its
 * connection rate, the SMTP step deadlines, TLS, the retry schedule and queue lifetime, and the
 * source IP (and EHLO name) it sends from. Pure.
 */
import type { AttemptLimits } from '../delivery/index.js';
import type { EffectiveLimits } from './effective.js';
import type { PickedSource } from './source-picker.js';

/** The per-attempt part of the effective limits (connections per session, timeouts, TLS, source). */
export function attemptLimits(
  lane: string,
  limits: EffectiveLimits,
  source: PickedSource | undefined,
  window: number,
): AttemptLimits {
  return {
    maxMessagesPerConnection: limits.max_messages_per_connection,
    maxConnections: limits.max_connections,
    site: lane,
    // Across relays the lane opens at most its current window of connections.
    siteMaxConnections: window,
    ...(limits.max_connection_rate ? { siteConnectionRate: limits.max_connection_rate } : {}),
    timeouts: {
      connectMs: limits.connect_timeout,
      greetingMs: limits.greeting_timeout,
      commandMs: limits.command_timeout,
      dataMs: limits.data_timeout,
    },
    tls: limits.tls === 'verify' ? 'require' : limits.tls,
    tlsVerify: limits.tls === 'verify',
    retryScheduleMs: limits.retry_schedule,
    maxQueueLifetimeMs: limits.max_queue_lifetime,
    ...(source ? { localAddress: source.ip, source: source.ip } : {}),
    ...(source?.ehloName ? { ehloName: source.ehloName } : {}),
  };
}
