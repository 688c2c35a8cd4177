/**
 * The output side of the reply gate: one slot per command in command order, each filled with its
 * reply (by smtp-server, or by the gate itself) and sent when it reaches the head as its behaviour
 * says — as is, after a stall, one byte at a time, or not at all (the socket destroyed). A close by
 * smtp-server waits behind the replies it wrote before it. Every slot's transcript entry gets
 * exactly one fate: written, dropped, partial (a drip cut short) or unanswered (still pending when
 * the socket closed). Owns its timers; `settleAll` (the socket closed) stops them.
 * Needs injected: the socket's real write and close, and what to do once a reply went out in full.
 */
import { closeAfterReply, type SinkBehaviour, type TranscriptStage } from './sink-stages.js';
import type { ReplyFate, TranscriptEntry } from './sink-transcript.js';

export interface Slot {
  stage: TranscriptStage;
  entry: TranscriptEntry;
  behaviour?: SinkBehaviour;
  /** The reply bytes, from smtp-server or (synthetic) from the gate. */
  payload?: string;
  /** Bytes of a drip already sent. */
  dripped?: number;
  /** Runs once the reply is written in full, with its code. */
  onWritten?: (code: number) => void;
}

/** A close by smtp-server, carried out once the replies before it are out. */
interface Marker {
  marker: 'end' | 'destroy';
}

export interface QueueIo {
  /** Writes for real; false when the socket can no longer be written. */
  write(data: string | Buffer): boolean;
  /** Ends or destroys the socket for real. */
  close(how: 'end' | 'destroy'): void;
  /** A slot's reply went out in full. */
  sent(slot: Slot, code: number): void;
}

export class ReplyQueue {
  private readonly items: (Slot | Marker)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastServerSlot: Slot | undefined;
  /** The head slot is being stalled or dripped. */
  holding = false;
  /** Nothing more goes out: the queue ended or destroyed the socket, or it closed. */
  done = false;
  /** A reply with `close: false` went out: the sink never closes this connection itself. */
  keepOpen = false;

  constructor(private readonly io: QueueIo) {}

  get idle(): boolean {
    return this.items.length === 0 && !this.holding;
  }

  add(slot: Slot): void {
    this.items.push(slot);
  }

  /** The slot of the command smtp-server is answering now (the first one not filled). */
  processing(): Slot | undefined {
    return this.items.find((s): s is Slot => !('marker' in s) && s.payload === undefined);
  }

  /** smtp-server wrote `payload`: it fills the slot it answers (or a new one, unsolicited). */
  fill(payload: string, unsolicited: () => Slot): void {
    const slot = this.processing() ?? unsolicited();
    slot.payload = payload;
    this.lastServerSlot = slot;
    this.pump();
  }

  /** smtp-server closes: after the replies it wrote so far (and the one being held back). */
  closeAfterServer(how: 'end' | 'destroy'): void {
    const after = this.lastServerSlot ? this.items.indexOf(this.lastServerSlot) + 1 : 0;
    this.items.splice(Math.max(after, this.holding ? 1 : 0), 0, { marker: how });
    this.pump();
  }

  pump(): void {
    while (!this.done && !this.holding) {
      const head = this.items[0];
      if (!head) return;
      if ('marker' in head) {
        this.items.shift();
        if (!this.keepOpen) this.closeNow(head.marker);
        return;
      }
      if (head.payload === undefined) return;
      const behaviour = head.behaviour;
      if (behaviour?.kind === 'drop') {
        this.items.shift();
        settle(head, { kind: 'dropped', at: Date.now() });
        this.closeNow('destroy');
        return;
      }
      if (behaviour?.kind === 'stall' || behaviour?.kind === 'drip') {
        this.holding = true;
        if (behaviour.kind === 'drip') this.drip(head, behaviour.intervalMs);
        else if (behaviour.ms !== undefined) this.later(behaviour.ms, () => this.release(head));
        else if (behaviour.until) {
          const release = () => {
            if (!this.done) this.release(head);
          };
          void behaviour.until.then(release, release);
        }
        return;
      }
      if (!this.io.write(head.payload)) return;
      this.sent(head);
    }
  }

  closeNow(how: 'end' | 'destroy'): void {
    this.done = true;
    this.io.close(how);
  }

  /** The socket closed: every slot still pending gets its fate, timers stop. */
  settleAll(): void {
    this.done = true;
    const at = Date.now();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const item of this.items.splice(0)) {
      if ('marker' in item) continue;
      const sent = item.dripped
        ? Buffer.from(item.payload ?? '')
            .subarray(0, item.dripped)
            .toString()
        : '';
      settle(item, sent ? { kind: 'partial', sent, at } : { kind: 'unanswered', at });
    }
  }

  private release(slot: Slot): void {
    delete slot.behaviour;
    this.holding = false;
    this.pump();
  }

  private drip(slot: Slot, intervalMs: number): void {
    const bytes = Buffer.from(slot.payload ?? '');
    const step = () => {
      const i = slot.dripped ?? 0;
      if (this.done || !this.io.write(bytes.subarray(i, i + 1))) return;
      slot.dripped = i + 1;
      if (slot.dripped < bytes.length) {
        this.later(intervalMs, step);
        return;
      }
      this.holding = false;
      this.sent(slot);
      this.pump();
    };
    step();
  }

  /** A slot's reply went out in full: record it, then what follows from it. */
  private sent(slot: Slot): void {
    if (this.items[0] === slot) this.items.shift();
    const payload = slot.payload ?? '';
    const code = Number.parseInt(payload.slice(0, 3), 10);
    settle(slot, { kind: 'written', code, text: payload.replace(/\r\n$/, ''), at: Date.now() });
    slot.onWritten?.(code);
    this.io.sent(slot, code);
    const close = closeAfterReply(slot.behaviour, code);
    if (close === false) this.keepOpen = true;
    if (close === true && !this.done) {
      slot.entry.closed = true;
      this.closeNow('end');
    }
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}

function settle(slot: Slot, fate: ReplyFate): void {
  slot.entry.fate ??= fate;
}
