/**
 * The `accepted` event of a message intake takes (spooled, or held in quarantine): its envelope,
 * every recipient (dropped ones too: they end `suppressed`), stream, campaign and traceparent.
 */
import type { AcceptedEvent } from '../events/index.js';
import { groupByDomain, storedStream } from '../queue/index.js';
import { spanIn, traceparentOf } from '../telemetry/index.js';
import type { EnqueueArgs } from './enqueue.js';

/** Stream (absent for the default) and campaign, as stored with the message and its events. */
export function trafficOf(args: Pick<EnqueueArgs, 'stream' | 'campaign'>): {
  stream?: string;
  campaign?: string;
} {
  const stream = storedStream(args.stream);
  return { ...(stream ? { stream } : {}), ...(args.campaign ? { campaign: args.campaign } : {}) };
}

export function acceptedEventOf(args: EnqueueArgs, acceptedAt: number): AcceptedEvent {
  const dropped = args.dropped ?? [];
  const traceparent = traceparentOf(spanIn(args.trace));
  return {
    type: 'accepted',
    time: acceptedAt,
    messageId: args.id,
    tenant: args.tenant,
    from: args.from,
    recipients: dropped.length ? [...args.recipients, ...dropped.map((d) => d.address)] : args.recipients,
    size: args.body.length,
    jobs: groupByDomain(args.recipients).size,
    source: args.source,
    ...(args.client ? { client: args.client } : {}),
    ...trafficOf(args),
    ...(traceparent ? { traceparent } : {}),
  };
}
