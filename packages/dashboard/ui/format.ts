/** Small display helpers: durations, times, replies, percentages. */
import type { Reply } from './api.ts';

const MS_PER_S = 1000;
const S_PER_MIN = 60;
const S_PER_H = 3600;

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / MS_PER_S));
  if (s < S_PER_MIN) return `${s}s`;
  if (s < S_PER_H) return `${Math.floor(s / S_PER_MIN)}m ${s % S_PER_MIN}s`;
  return `${Math.floor(s / S_PER_H)}h ${Math.floor((s % S_PER_H) / S_PER_MIN)}m`;
}

export const time = (ms: number) => new Date(ms).toLocaleTimeString();
export const percent = (x: number) => `${(x * 100).toFixed(2)}%`;
export const reply = (r: Reply | undefined) =>
  r ? `${r.code} ${r.enhanced ?? ''} ${r.text}`.replace(/\s+/g, ' ') : '—';
