/**
 * The chaos layer of one plaintext sink connection, between the raw socket and smtp-server. It reads
 * the client's bytes before smtp-server does (commands and bodies, client-input.ts) and gives every
 * command a slot in a reply queue (reply-queue.ts); each reply smtp-server writes fills the slot of
 * the command it answers, and slots go out in command order as the stage's behaviour says
 * (sink-stages.ts). A scripted reply at a stage without an smtp-server hook (EHLO, DATA, RSET, QUIT)
 * is answered here and the command never reaches smtp-server; at MAIL, RCPT, the greeting and the
 * end of data the sink's hooks ask `replyFor`, so smtp-server's session agrees with what the client
 * was told. Every slot's fate goes to the connection's transcript (sink-transcript.ts).
 * Relies on smtp-server answering each command with exactly one socket.write, in command order, and
 * closing with socket.end()/destroy() (the sink's tests check every behaviour end to end).
 * Guarantees: whatever ends the connection (the sink, smtp-server, the client's FIN or reset), every
 * slot gets exactly one fate; the gate's timers die with the socket.
 */
import type net from 'node:net';
import { ClientInput } from './client-input.js';
import { ReplyQueue, type Slot } from './reply-queue.js';
import { replyText, type SinkReply } from './sink-script.js';
import {
  addressOfCommand,
  replyOverride,
  type SinkStage,
  type StageScript,
  stageOfCommand,
  type TranscriptStage,
} from './sink-stages.js';
import type { ConnectionTranscript, TranscriptEntry } from './sink-transcript.js';
import { type SocketOriginals, tapSocket } from './socket-tap.js';
import { StageTracker } from './stage-context.js';

/** Stages whose scripted replies the gate gives itself (smtp-server has no hook there). */
const GATE_ANSWERS: ReadonlySet<TranscriptStage> = new Set(['ehlo', 'data', 'rset', 'quit']);
const DATA_GO_AHEAD = 354;

export interface ReplyGateOptions {
  socket: net.Socket;
  connection: number;
  clientAddress: string;
  /** The sink's current stage script (read at each decision: setScript applies live). */
  stages: () => StageScript | undefined;
}

export class ReplyGate {
  readonly transcript: ConnectionTranscript;
  private readonly socket: net.Socket;
  private readonly original: SocketOriginals;
  private readonly input = new ClientInput();
  private readonly tracker: StageTracker;
  private readonly queue: ReplyQueue;
  private bodyDrop = false;

  constructor(opts: ReplyGateOptions) {
    const socket = opts.socket;
    this.socket = socket;
    this.transcript = {
      connection: opts.connection,
      clientAddress: opts.clientAddress,
      openedAt: Date.now(),
      entries: [],
    };
    this.tracker = new StageTracker(opts.connection, opts.clientAddress, opts.stages);
    this.original = tapSocket(socket, {
      write: (chunk, rest) => this.serverWrite(chunk, rest),
      close: (how, args) => this.serverClose(how, args),
      clientData: (chunk) => this.clientData(chunk),
    });
    this.queue = new ReplyQueue({
      write: (data) => {
        if (socket.destroyed || !socket.writable) return false;
        this.original.write(data);
        return true;
      },
      close: (how) => void this.original.close(how),
      sent: (slot, code) => {
        if (slot.stage !== 'data' || code !== DATA_GO_AHEAD) return;
        this.input.startBody();
        this.bodyDrop = this.tracker.decide('body', '')?.kind === 'drop';
      },
    });
    socket.on('end', () => {
      // The client left while a reply was held back, or where the sink keeps the socket open.
      if (this.queue.holding || this.queue.keepOpen) this.kill();
    });
    socket.on('close', () => {
      this.transcript.closedAt = Date.now();
      this.queue.settleAll();
    });
    this.addSlot('greeting', '');
  }

  /** The chaos reply for the command smtp-server is processing now, if it is at `stage`. */
  replyFor(stage: SinkStage): SinkReply | undefined {
    const slot = this.queue.processing();
    return slot?.stage === stage ? replyOverride(slot.behaviour) : undefined;
  }

  /** End of data: the whole message arrived; `onWritten` runs once its reply is written in full. */
  received(onWritten: (code: number) => void): void {
    const slot = this.queue.processing();
    if (slot?.stage !== 'dataEnd') return;
    slot.entry.received = true;
    slot.onWritten = onWritten;
  }

  /** Destroy the connection in the middle of the body (nothing more is read or answered). */
  dropBody(): void {
    const at = Date.now();
    this.transcript.entries.push({
      stage: 'body',
      command: '',
      at,
      fate: { kind: 'dropped', at },
      behaviour: 'drop',
    });
    this.kill();
  }

  /** Destroy the socket now, whatever is pending. */
  kill(): void {
    this.queue.closeNow('destroy');
  }

  private clientData(chunk: Buffer): void {
    if (this.queue.done) return;
    const forward: Buffer[] = [];
    for (const piece of this.input.push(chunk)) {
      if (piece.kind === 'raw') forward.push(piece.bytes);
      else if (piece.kind === 'body') {
        if (this.bodyDrop) {
          this.dropBody();
          return;
        }
        forward.push(piece.bytes);
        if (piece.end) {
          this.addSlot('dataEnd', '.');
          this.tracker.endOfData();
        }
      } else if (this.command(piece.line)) forward.push(piece.bytes);
    }
    if (forward.length > 0) this.original.passData(Buffer.concat(forward));
  }

  /** Adds the command's slot; false when the gate answers it itself (smtp-server never sees it). */
  private command(line: string): boolean {
    const stage = stageOfCommand(line);
    const address = stage === 'mail' || stage === 'rcpt' ? addressOfCommand(line) : undefined;
    this.tracker.command(stage, address);
    const slot = this.addSlot(stage, line, address);
    const reply = replyOverride(slot.behaviour);
    if (!reply || !GATE_ANSWERS.has(stage)) return true;
    slot.payload = `${reply.code} ${replyText(reply)}`.trimEnd() + '\r\n';
    this.queue.pump();
    return false;
  }

  private addSlot(stage: TranscriptStage, command: string, address?: string): Slot {
    const behaviour = stage === 'other' ? undefined : this.tracker.decide(stage, command, address);
    const entry: TranscriptEntry = {
      stage,
      command,
      at: Date.now(),
      ...(address !== undefined ? { address } : {}),
      ...(behaviour ? { behaviour: behaviour.kind } : {}),
    };
    this.transcript.entries.push(entry);
    const slot: Slot = { stage, entry, ...(behaviour ? { behaviour } : {}) };
    this.queue.add(slot);
    return slot;
  }

  private serverWrite(chunk: unknown, rest: unknown[]): boolean {
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    if (this.queue.done) return true; // the gate closed the connection: nothing more goes out
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    this.queue.fill(text, () => this.addSlot('other', ''));
    return true;
  }

  /** smtp-server (or Node, after the client's FIN) closes: now, or after the replies it wrote. */
  private serverClose(how: 'end' | 'destroy', args: unknown[]): net.Socket {
    const error = how === 'destroy' && args[0] instanceof Error;
    const queue = this.queue;
    if (queue.done || error || (queue.idle && !queue.keepOpen)) {
      queue.done = true;
      return this.original.close(how, args);
    }
    if (!queue.keepOpen) queue.closeAfterServer(how);
    return this.socket;
  }
}
