/**
 * The default event sink: each event becomes one pino log line and one entry (field `event`, a
 * JSON string) in the Redis stream `<prefix>:events`, capped near `streamMaxLen` (XADD MAXLEN ~).
 * Listeners registered with `on` see every event in-process (tests, metrics, webhooks later).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EventSink, HeraldEvent } from './types.js';

export interface RedisEventSinkOptions {
  redis: Redis;
  streamKey: string;
  streamMaxLen: number;
  logger: Logger;
}

export class RedisEventSink implements EventSink {
  private readonly listeners = new Set<(event: HeraldEvent) => void>();
  private pending = new Set<Promise<unknown>>();

  constructor(private readonly options: RedisEventSinkOptions) {}

  on(listener: (event: HeraldEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: HeraldEvent): void {
    const { redis, streamKey, streamMaxLen, logger } = this.options;
    const level =
      event.type === 'attempt'
        ? 'debug'
        : event.type === 'bounced' || event.type === 'expired'
          ? 'warn'
          : 'info';
    logger[level](
      { event },
      `${event.type} ${event.messageId}${'recipient' in event ? ` ${event.recipient}` : ''}`,
    );
    const write = redis
      .xadd(streamKey, 'MAXLEN', '~', String(streamMaxLen), '*', 'event', JSON.stringify(event))
      .catch((err: unknown) => logger.error({ err }, 'event stream write failed'));
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        logger.error({ err }, 'event listener failed');
      }
    }
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

/** Reads events back from the stream (oldest first), e.g. for tests and `herald events`. */
export async function readEvents(redis: Redis, streamKey: string, count = 10_000): Promise<HeraldEvent[]> {
  const entries = await redis.xrange(streamKey, '-', '+', 'COUNT', count);
  return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as HeraldEvent);
}
