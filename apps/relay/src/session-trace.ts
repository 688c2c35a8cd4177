/**
 * The submission listener's spans: `smtp.session` from connect to close (one per SMTP
 * connection, a trace's root), and `herald.accept` for each message's end of DATA (content
 * checks, trace headers, enqueue) as its child; the accept span's context is handed to intake's
 * enqueue, which stores its traceparent with the message. With telemetry off the tracer is the
 * no-op one: a span is one small object. Owns: the session → span map (weak).
 */
import type { Herald } from '@herald/delivery-core';
import {
  type Context,
  endSpan,
  SPAN_NAMES,
  type Span,
  SpanKind,
  withSpan,
} from '@herald/delivery-core/telemetry';
import type { SMTPServerSession } from 'smtp-server';

const sessionSpans = new WeakMap<SMTPServerSession, { span: Span; messages: number }>();

export function sessionOpened(herald: Herald, session: SMTPServerSession): void {
  const span = herald.telemetry.tracer.startSpan(SPAN_NAMES.session, {
    kind: SpanKind.SERVER,
    attributes: { 'client.address': session.remoteAddress, 'network.transport': 'tcp' },
  });
  sessionSpans.set(session, { span, messages: 0 });
}

export function sessionClosed(session: SMTPServerSession): void {
  const traced = sessionSpans.get(session);
  if (!traced) return;
  sessionSpans.delete(session);
  traced.span.setAttributes({ 'herald.tls': session.secure, 'herald.messages': traced.messages });
  const user = session.user as { tenant?: string } | undefined;
  if (user?.tenant) traced.span.setAttribute('herald.tenant', user.tenant);
  traced.span.end();
}

/** Starts the accept span of one message of `session`; `end` it with its reply. */
export function startAccept(
  herald: Herald,
  session: SMTPServerSession,
): { trace: Context; span: Span; end(reply: { code: number; id?: string; error?: string }): void } {
  const traced = sessionSpans.get(session);
  const parent = traced ? withSpan(traced.span) : undefined;
  const span = herald.telemetry.tracer.startSpan(
    SPAN_NAMES.accept,
    { attributes: { 'herald.source': 'smtp' } },
    parent,
  );
  return {
    trace: withSpan(span),
    span,
    end({ code, error }) {
      if (traced && code < 400) traced.messages += 1;
      span.setAttribute('smtp.reply.code', code);
      endSpan(span, error);
    },
  };
}
