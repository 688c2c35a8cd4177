/**
 * A seeded chaos destination: `createChaos({ seed, stages })` picks, per stage, among weighted
 * behaviours (sink-stages.ts) — per connection for the greeting, EHLO, RSET and QUIT, per
 * transaction for MAIL, per recipient for RCPT, and per transaction's recipients for DATA, the body
 * and the end of data. Each pick is drawn from a small PRNG (mulberry32) seeded with a hash of
 * (seed, stage, key, how many times that key was seen at that stage), so a recipient's sequence of
 * fates is the same in every run whatever the order connections interleave in; no Math.random.
 * What the sink then actually did is its transcript (sink-transcript.ts), not these picks.
 */
import type { SinkBehaviour, SinkStage, StageContext, StageRule } from './sink-stages.js';

export interface WeightedBehaviour {
  weight: number;
  /** Undefined: the normal reply. */
  behaviour?: SinkBehaviour;
  /** A name for the pick counts (default: the behaviour's kind, or 'normal'). */
  label?: string;
}

export interface ChaosOptions {
  seed: number;
  /** Stages left out always get the normal reply. */
  stages: Partial<Record<SinkStage, readonly WeightedBehaviour[]>>;
}

export interface Chaos {
  /** The sink script's `stages`: `startSmtpSink({ script: { stages: chaos.rule } })`. */
  readonly rule: StageRule;
  /** How often each stage picked each label, e.g. { 'rcpt normal': 240, 'rcpt 450': 12 }. */
  picks(): Record<string, number>;
}

const UINT32 = 2 ** 32;

/** mulberry32: a 32-bit PRNG, uniform in [0, 1). */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / UINT32;
  };
}

/** FNV-1a over the string's UTF-16 code units: a 32-bit seed from text. */
export function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The key a stage's pick is drawn for (see the header). */
function keyOf(ctx: StageContext): string {
  switch (ctx.stage) {
    case 'rcpt':
      return `rcpt ${(ctx.address ?? '').toLowerCase()}`;
    case 'data':
    case 'body':
    case 'dataEnd':
      return `tx ${ctx.recipients.map((r) => r.toLowerCase()).join(',')}`;
    case 'mail':
      return `connection ${ctx.connection} tx ${ctx.transaction}`;
    default:
      return `connection ${ctx.connection}`;
  }
}

export function labelOf(choice: WeightedBehaviour): string {
  if (choice.label) return choice.label;
  const b = choice.behaviour;
  if (!b) return 'normal';
  if (b.kind === 'reply') return `${b.reply.code}${b.close ? '+close' : ''}`;
  if (b.kind === 'stall')
    return b.ms !== undefined ? `stall ${b.ms}ms` : b.until ? 'stall until released' : 'stall forever';
  if (b.kind === 'drip') return `drip ${b.intervalMs}ms`;
  return b.kind;
}

/** The choice whose cumulative weight first exceeds `at` (0 ≤ at < total). */
function pick(choices: readonly WeightedBehaviour[], at: number): WeightedBehaviour {
  let cumulative = 0;
  for (const choice of choices) {
    cumulative += choice.weight;
    if (at < cumulative) return choice;
  }
  return choices.at(-1)!;
}

export function createChaos(opts: ChaosOptions): Chaos {
  for (const [stage, choices] of Object.entries(opts.stages)) {
    const total = (choices ?? []).reduce((sum, c) => sum + c.weight, 0);
    if (!(total > 0) || (choices ?? []).some((c) => !(c.weight >= 0))) {
      throw new Error(`chaos stage ${stage}: weights must be ≥ 0 with a positive sum`);
    }
  }
  const seen = new Map<string, number>();
  const picks: Record<string, number> = {};
  const rule: StageRule = (ctx) => {
    const choices = opts.stages[ctx.stage];
    if (!choices || choices.length === 0) return undefined;
    const key = `${ctx.stage} ${keyOf(ctx)}`;
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    const draw = createPrng(hashSeed(`${opts.seed}|${key}|${occurrence}`))();
    const total = choices.reduce((sum, c) => sum + c.weight, 0);
    const choice = pick(choices, draw * total);
    const label = `${ctx.stage} ${labelOf(choice)}`;
    picks[label] = (picks[label] ?? 0) + 1;
    return choice.behaviour;
  };
  return { rule, picks: () => ({ ...picks }) };
}
