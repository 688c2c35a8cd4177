/**
 * The door's settings from an `smtp`-shaped config section (the relay's `smtp`; a listener with
 * its own section of the same keys can pass that). One place maps config keys to the door.
 */
import type { HeraldConfig } from '../config/index.js';
import { ClientDoor } from './client-door.js';
import type { DataPaceLimits } from './data-pace.js';
import type { SessionLimits } from './session-limits.js';

type SmtpSection = HeraldConfig['smtp'];

export interface SmtpDoorSettings {
  door: ClientDoor;
  session: SessionLimits;
  data: DataPaceLimits;
  redisTimeoutMs: number;
}

export function doorFromSmtpConfig(smtp: SmtpSection, now: () => number = Date.now): SmtpDoorSettings {
  const c = smtp.client_limits;
  const door = new ClientDoor({
    limits: {
      maxConnections: c.max_connections,
      maxConnectionRate: c.max_connection_rate,
      rateWindowMs: c.rate_time_unit,
      authFailureLimit: c.auth_failure_limit,
      authFailureWindowMs: c.auth_failure_window,
      blockMs: c.block_time,
      authDelayMs: c.auth_failure_delay,
      authMaxDelayMs: c.auth_failure_max_delay,
      userFailureThreshold: c.user_failure_threshold,
      ipv6PrefixBits: c.ipv6_prefix,
    },
    exceptions: c.exceptions,
    now,
  });
  return {
    door,
    session: {
      junkCommandLimit: smtp.junk_command_limit,
      softErrorLimit: smtp.soft_error_limit,
      hardErrorLimit: smtp.hard_error_limit,
      errorSleepMs: smtp.error_sleep_time,
      authFailureLimit: smtp.auth_failures_per_session,
    },
    data: {
      timeoutMs: smtp.data_timeout,
      minBytesPerSecond: smtp.data_min_rate,
      graceMs: smtp.data_rate_grace,
    },
    redisTimeoutMs: smtp.redis_timeout,
  };
}
