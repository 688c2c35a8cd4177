/**
 * smtp-server's hooks for a sink: the greeting, MAIL, RCPT and end-of-data replies the script gives
 * (sink-script.ts), with a connection's chaos reply (reply-gate.ts `replyFor`) taking precedence, so
 * smtp-server's session agrees with what the client was told. A message is recorded as accepted
 * once its 2xx is written in full (at once without a gate; after a stall or drip with one; never
 * when the gate drops or stalls it for good).
 * Needs injected: the sink's state (SinkState).
 */
import type net from 'node:net';
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { ReplyGate } from './reply-gate.js';
import {
  clientOf,
  failureOf,
  rcptReply,
  replyError,
  replyText,
  type SinkMessage,
  type SinkRejection,
  type SinkScript,
} from './sink-script.js';

const DATA_OK_CODE = 250;
const SUCCESS_CLASS = 2;

type Done = (err?: Error | null, message?: string) => void;

export interface SinkState {
  host: string;
  rejected: SinkRejection[];
  counters: { transactions: number };
  /** Timers the sink clears on close. */
  timers: Set<NodeJS.Timeout>;
  script(): SinkScript;
  gateOf(session: SMTPServerSession): ReplyGate | undefined;
  socketOf(session: SMTPServerSession): net.Socket | undefined;
  /** Records an accepted message (and wakes waiters). */
  accept(message: SinkMessage): void;
}

export function sinkHooks(state: SinkState) {
  const onConnect = (session: SMTPServerSession, callback: Done) => {
    const current = state.script();
    const chaos = state.gateOf(session)?.replyFor('greeting');
    if (chaos) return callback(replyError(chaos));
    const proceed = () => {
      const greeting = failureOf(current.greeting);
      if (!greeting) return callback();
      state.rejected.push({ stage: 'greeting', reply: greeting });
      callback(replyError(greeting));
    };
    if (!current.greetingDelayMs) return proceed();
    const timer = setTimeout(() => {
      state.timers.delete(timer);
      proceed();
    }, current.greetingDelayMs);
    state.timers.add(timer);
  };

  const onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, cb: Done) => {
    state.counters.transactions++;
    const chaos = state.gateOf(session)?.replyFor('mail');
    if (chaos) return cb(replyError(chaos));
    const rule = state.script().mail;
    const reply = failureOf(typeof rule === 'function' ? rule(address.address) : rule);
    if (!reply) return cb();
    state.rejected.push({ stage: 'mail', address: address.address, reply });
    cb(replyError(reply));
  };

  const onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, cb: Done) => {
    const chaos = state.gateOf(session)?.replyFor('rcpt');
    if (chaos) return cb(replyError(chaos));
    const client = clientOf(session);
    const reply = failureOf(rcptReply(state.script(), address.address, client));
    if (!reply) return cb();
    state.rejected.push({ stage: 'rcpt', address: address.address, reply, at: Date.now(), ...client });
    cb(replyError(reply));
  };

  const onData = (stream: NodeJS.ReadableStream, session: SMTPServerSession, cb: Done) => {
    const current = state.script();
    const gate = state.gateOf(session);
    const chunks: Buffer[] = [];
    let dropped = false;
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (current.dropInData && !dropped) {
        dropped = true;
        if (gate) gate.dropBody();
        else state.socketOf(session)?.destroy();
      }
    });
    stream.on('end', () => {
      if (dropped) return; // the connection is gone: no reply, nothing recorded
      const mailFrom = session.envelope.mailFrom;
      const message: SinkMessage = {
        from: mailFrom ? mailFrom.address : '',
        to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
        raw: Buffer.concat(chunks),
        receivedAt: Date.now(),
        connectionId: session.id,
        host: state.host,
        secure: Boolean(session.secure),
        ...clientOf(session),
      };
      const chaos = gate?.replyFor('dataEnd');
      const reply = chaos ?? (typeof current.data === 'function' ? current.data(message) : current.data);
      const failure = failureOf(reply);
      if (failure) {
        if (!chaos) state.rejected.push({ stage: 'data', reply: failure });
        gate?.received(() => {});
        return cb(replyError(failure));
      }
      if (!gate) state.accept(message);
      else
        gate.received((code) => {
          if (Math.floor(code / 100) === SUCCESS_CLASS) state.accept(message);
        });
      cb(null, reply?.code === DATA_OK_CODE ? replyText(reply) : undefined);
    });
  };

  return { onConnect, onMailFrom, onRcptTo, onData };
}
