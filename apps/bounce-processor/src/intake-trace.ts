/**
 * The bounce-processor's `bounce.intake` span: one report, from the end of DATA to its answer. It
 * starts a trace of its own and, when the report can be matched to a message Herald sent (the
 * VERP token's message id, else the first recorded event's), links to that message's trace: the
 * accept span's traceparent its accepted event carries (herald.messageTraceparent, one LINDEX,
 * read only when telemetry is on). The classification is written as attributes: report kind,
 * reason, hard, action, feedback type, recipients, events recorded.
 */
import type { FeedbackResult, Herald } from '@herald/delivery-core';
import type { BounceReport } from '@herald/delivery-core/bounce';
import type { Arrival } from '@herald/delivery-core/feedback';
import { endSpan, parseTraceparent, SPAN_NAMES, type Span, SpanKind } from '@herald/delivery-core/telemetry';

export interface IntakeTrace {
  /** The classifier's reading of the report. */
  classified(report: BounceReport | undefined, outcome: string): void;
  /** What recordFeedback did; links the span to the message's trace when it is known. */
  recorded(result: FeedbackResult): Promise<void>;
  end(error?: string): void;
}

export function traceIntake(herald: Herald, arrival: Arrival): IntakeTrace {
  const span: Span = herald.telemetry.tracer.startSpan(SPAN_NAMES.bounceIntake, {
    kind: SpanKind.SERVER,
    attributes: {
      'herald.arrival': arrival.kind,
      ...(arrival.kind === 'verp'
        ? { 'herald.message_id': arrival.token.messageId, 'herald.tenant': arrival.token.tenant ?? '' }
        : {}),
    },
  });
  const link = async (messageId: string | undefined) => {
    if (!messageId || !herald.telemetry.enabled) return;
    try {
      const context = parseTraceparent(await herald.messageTraceparent(messageId));
      if (context) span.addLink({ context, attributes: { 'herald.message_id': messageId } });
      span.setAttribute('herald.linked', context !== undefined);
    } catch {
      // A trace we cannot read is no reason to refuse a report.
    }
  };
  return {
    classified(report, outcome) {
      span.setAttribute('herald.classifier.outcome', outcome);
      if (!report) return;
      const first = report.recipients[0];
      span.setAttributes({
        'herald.bounce.kind': report.kind,
        'herald.bounce.recipients': report.recipients.length,
        ...(first
          ? {
              'herald.bounce.reason': first.reason,
              'herald.bounce.hard': first.hard,
              'herald.bounce.action': first.action,
            }
          : {}),
        ...(report.feedbackType ? { 'herald.bounce.feedback_type': report.feedbackType } : {}),
      });
    },
    async recorded(result) {
      span.setAttributes({
        'herald.bounce.events': result.events.length,
        'herald.bounce.repeated': result.repeated === true,
      });
      if (result.ignored) span.setAttribute('herald.bounce.ignored', result.ignored);
      const messageId =
        arrival.kind === 'verp' ? arrival.token.messageId : result.events.find((e) => e.messageId)?.messageId;
      await link(messageId);
    },
    end: (error) => endSpan(span, error),
  };
}
