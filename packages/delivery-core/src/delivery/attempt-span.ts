/**
 * The `herald.delivery.attempt` span of one counted delivery attempt: made once the attempt's SMTP
 * transactions reported (with the attempt's start as its start time), as a child of the message's
 * accept span — the traceparent the job data carries from intake, so the span joins the message's
 * trace in whichever thread or relay runs the attempt. Its attributes are the attempt's facts:
 * site, destination domain, MX host and IP, TLS (version, cipher, verified), the first reply
 * (code, enhanced code) and the result over the attempted recipients (delivered, deferred,
 * bounced; `partial` when they differ) with their counts. No tracer, or a no-op one: nothing.
 */
import type { SmtpReply } from '../errors/index.js';
import type { DeliveryJobData } from '../queue/index.js';
import type { AttemptReport } from '../smtp/index.js';
import {
  type Attributes,
  contextOf,
  SPAN_NAMES,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '../telemetry/index.js';

type AttemptResult = 'delivered' | 'deferred' | 'bounced';

/** A recipient's state after the attempt settled, as the span reports it. */
function resultOf(state: DeliveryJobData['recipients'][number]['state']): AttemptResult {
  if (state === 'delivered') return 'delivered';
  return state === 'pending' ? 'deferred' : 'bounced';
}

/** Records the span of an attempt that began at `startedAt` (epoch ms) and has settled `data`. */
export function traceAttempt(
  tracer: Tracer | undefined,
  data: DeliveryJobData,
  attempted: readonly string[],
  report: AttemptReport,
  startedAt: number,
): void {
  if (!tracer) return;
  const counts: Record<AttemptResult, number> = { delivered: 0, deferred: 0, bounced: 0 };
  const wanted = new Set(attempted);
  for (const r of data.recipients) if (wanted.has(r.address)) counts[resultOf(r.state)] += 1;
  const kinds = (Object.keys(counts) as AttemptResult[]).filter((k) => counts[k] > 0);
  const result = kinds.length === 1 ? kinds[0]! : 'partial';
  const reply: SmtpReply | undefined = report.recipients[0]?.reply ?? report.hostErrors.at(-1)?.reply;
  const host = report.host;
  const attributes: Attributes = {
    'herald.message_id': data.messageId,
    'herald.tenant': data.tenant,
    'herald.domain': data.domain,
    'herald.attempt': data.attempts,
    'herald.result': result,
    'herald.recipients.delivered': counts.delivered,
    'herald.recipients.deferred': counts.deferred,
    'herald.recipients.bounced': counts.bounced,
    'herald.host_errors': report.hostErrors.length,
    ...(data.site ? { 'herald.site': data.site } : {}),
    ...(data.source ? { 'herald.source_ip': data.source } : {}),
    ...(host
      ? {
          'server.address': host.hostname,
          'server.port': host.port,
          'network.peer.address': host.address,
          'herald.tls': host.tls,
          ...(host.tlsVersion ? { 'tls.protocol.version': host.tlsVersion } : {}),
          ...(host.tlsCipher ? { 'tls.cipher': host.tlsCipher } : {}),
          ...(host.tlsVerified !== undefined ? { 'herald.tls.verified': host.tlsVerified } : {}),
        }
      : {}),
    ...(reply
      ? {
          'smtp.reply.code': reply.code,
          ...(reply.enhanced ? { 'smtp.reply.enhanced': reply.enhanced } : {}),
        }
      : {}),
  };
  const span = tracer.startSpan(
    SPAN_NAMES.attempt,
    { kind: SpanKind.CLIENT, startTime: new Date(startedAt), attributes },
    contextOf(data.traceparent),
  );
  if (result === 'bounced') span.setStatus({ code: SpanStatusCode.ERROR, message: reply?.text ?? 'bounced' });
  span.end();
}
