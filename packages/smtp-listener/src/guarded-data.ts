/**
 * One DATA transfer behind the door: collects the body while the door watches its pace
 * (data_timeout, data_min_rate), and answers the client exactly once — nothing when the door cut
 * the transfer or the connection closed (the door answered, or nobody is left to answer), the
 * size refusal for an oversized body, else whatever `take(body)` resolves (the `250` text) or
 * rejects with (the refusal). Shared by the relay's submission listener and the bounce-processor;
 * the caller decides what counts as the client's error (DoorGuard.excuseNextError).
 */
import { MessageCollector } from '@herald/delivery-core/util';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { DoorGuard } from './door-guard.js';

export type DataCallback = (err?: Error | null, message?: string) => void;

export interface GuardedDataOptions {
  /** The refusal of a body over the listener's SIZE. */
  tooBig(): Error;
  /** Acts on the whole body: resolves with the `250` text, rejects with the refusal. */
  take(body: Buffer): Promise<string>;
}

export function receiveGuarded(
  guard: DoorGuard,
  session: SMTPServerSession,
  stream: SMTPServerDataStream,
  callback: DataCallback,
  options: GuardedDataOptions,
): void {
  const watch = guard.watchData(session, stream);
  let answered = false;
  const answer: DataCallback = (err, message) => {
    watch.stop();
    if (answered) return;
    answered = true;
    callback(err, message);
  };
  // With a SIZE= declared at MAIL FROM the message is copied into one buffer as it arrives,
  // instead of being held as chunks and then joined (util/headroom.ts).
  const collector = new MessageCollector(declaredSize(session));
  let ended = false;
  stream.on('data', (chunk: Buffer) => {
    // Past the listener's SIZE nothing more is kept (it is read and dropped until the end of
    // data, then refused): memory per transfer stays within SIZE plus one chunk.
    if (stream.sizeExceeded) {
      collector.drop();
      return;
    }
    collector.push(chunk);
  });
  stream.on('error', (err) => answer(err));
  // A transfer cut by the door never ends: its connection closes and destroys the stream.
  stream.on('close', () => {
    if (!ended) answer(new Error('connection closed during DATA'));
  });
  stream.on('end', () => {
    ended = true;
    watch.stop();
    if (watch.aborted) return answer(new Error(`transfer cut: ${watch.aborted}`));
    if (stream.sizeExceeded) return answer(options.tooBig());
    // One copy, with room in front for the header fields intake adds on top (no copy each);
    // the chunks are let go at once, so the message is held once while it is spooled.
    options.take(collector.finish()).then(
      (text) => answer(null, text),
      (err: Error) => answer(err),
    );
  });
}

/** The SIZE= of the session's MAIL FROM (smtp-server refused one over the listener's limit). */
function declaredSize(session: SMTPServerSession): number | undefined {
  const mailFrom = session.envelope?.mailFrom;
  const args = mailFrom ? (mailFrom.args as Record<string, unknown>) : {};
  const size = Number(args['SIZE']);
  return Number.isSafeInteger(size) && size > 0 ? size : undefined;
}
