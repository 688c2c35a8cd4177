/**
 * Every Redis key Herald's queue owns, under one prefix (config `redis.prefix`). BullMQ's own keys
 * live under `<prefix>:<queue name>:*`.
 */
export const DELIVERY_QUEUE = 'delivery';

export interface QueueKeys {
  prefix: string;
  body(messageId: string): string;
  message(messageId: string): string;
  pendingJobs(messageId: string): string;
  events: string;
}

export function queueKeys(prefix: string): QueueKeys {
  return {
    prefix,
    body: (id) => `${prefix}:body:${id}`,
    message: (id) => `${prefix}:msg:${id}`,
    pendingJobs: (id) => `${prefix}:msg:${id}:jobs`,
    events: `${prefix}:events`,
  };
}
