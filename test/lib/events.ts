/**
 * Herald's events as the e2e tests see them: an in-process log fed by `herald.events.on`, with
 * bounded waits for a recipient's outcome, and the "every accepted recipient ends in exactly one
 * terminal event" audit over any list of events (the Redis stream is the durable record).
 * Owns: the collected events. Guarantees: waits reject with the events seen so far.
 * Needs injected: a subscribe function (e.g. `(l) => relay.herald.events.on(l)`).
 */
import type { HeraldEvent } from '@herald/delivery-core';
import {
  type AcceptedEvent,
  type AttemptEvent,
  eventSubject,
  type RecipientEvent,
} from '@herald/delivery-core/events';
import { DEFAULT_WAIT_MS } from './wait.js';

export const TERMINAL_TYPES: readonly string[] = ['delivered', 'bounced', 'expired', 'suppressed'];

export function isRecipientEvent(event: HeraldEvent): event is RecipientEvent {
  return event.type !== 'accepted' && event.type !== 'attempt';
}

export function isTerminal(event: HeraldEvent): event is RecipientEvent {
  return TERMINAL_TYPES.includes(event.type);
}

interface Waiter {
  predicate: (event: HeraldEvent) => boolean;
  resolve: (event: HeraldEvent) => void;
}

export class EventLog {
  readonly all: HeraldEvent[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly unsubscribe: () => void;

  constructor(subscribe: (listener: (event: HeraldEvent) => void) => () => void) {
    this.unsubscribe = subscribe((event) => {
      this.all.push(event);
      for (const waiter of this.waiters) {
        if (!waiter.predicate(event)) continue;
        this.waiters.delete(waiter);
        waiter.resolve(event);
      }
    });
  }

  /** The first event (already seen or still to come) matching `predicate`. */
  waitFor<E extends HeraldEvent = HeraldEvent>(
    what: string,
    predicate: (event: HeraldEvent) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<E> {
    const seen = this.all.find(predicate);
    if (seen) return Promise.resolve(seen as E);
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no ${what} event within ${timeoutMs} ms; events so far:\n${this.describe()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event as E);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** The terminal event of `recipient` (optionally of one message). */
  terminal(recipient: string, messageId?: string, timeoutMs = DEFAULT_WAIT_MS): Promise<RecipientEvent> {
    return this.waitFor<RecipientEvent>(
      `terminal event for ${recipient}`,
      (e) =>
        isTerminal(e) && sameAddress(e.recipient, recipient) && (!messageId || e.messageId === messageId),
      timeoutMs,
    );
  }

  /** The first recipient event of `type` for `recipient`. */
  outcome(
    type: RecipientEvent['type'],
    recipient: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<RecipientEvent> {
    return this.waitFor<RecipientEvent>(
      `${type} event for ${recipient}`,
      (e) => e.type === type && sameAddress(e.recipient, recipient),
      timeoutMs,
    );
  }

  accepted(messageId: string, timeoutMs = DEFAULT_WAIT_MS): Promise<AcceptedEvent> {
    return this.waitFor<AcceptedEvent>(
      `accepted event of ${messageId}`,
      (e) => e.type === 'accepted' && e.messageId === messageId,
      timeoutMs,
    );
  }

  attempts(messageId: string): AttemptEvent[] {
    return this.all.filter((e): e is AttemptEvent => e.type === 'attempt' && e.messageId === messageId);
  }

  ofType<T extends HeraldEvent['type']>(type: T): Extract<HeraldEvent, { type: T }>[] {
    return this.all.filter((e) => e.type === type) as Extract<HeraldEvent, { type: T }>[];
  }

  describe(): string {
    return this.all
      .map((e) => `  ${e.type} ${eventSubject(e)}${'recipient' in e ? ` ${e.recipient}` : ''}`)
      .join('\n');
  }

  close(): void {
    this.unsubscribe();
    this.waiters.clear();
  }
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Problems with the rule "every accepted recipient ends in exactly one terminal event" in
 * `events` (empty when it holds): recipients with no or several terminal events, and terminal
 * events for recipients that were never accepted.
 */
export function terminalEventProblems(events: readonly HeraldEvent[]): string[] {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.type !== 'accepted') continue;
    for (const r of e.recipients) counts.set(`${e.messageId} ${r.toLowerCase()}`, 0);
  }
  const problems: string[] = [];
  for (const e of events) {
    if (!isTerminal(e)) continue;
    const key = `${e.messageId} ${e.recipient.toLowerCase()}`;
    const n = counts.get(key);
    if (n === undefined) problems.push(`${e.type} for ${key}, which was never accepted`);
    else counts.set(key, n + 1);
  }
  for (const [key, n] of counts) if (n !== 1) problems.push(`${key}: ${n} terminal events`);
  return problems;
}
