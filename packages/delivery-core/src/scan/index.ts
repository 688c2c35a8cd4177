/**
 * Content scanning of submitted mail through rspamd (config `scanning`): `createScanner` gives
 * intake one verb, `scan`, that POSTs the message to rspamd's `/checkv2` (rspamd.ts) within
 * `scanning.rspamd.timeout` and answers the tenant's action by score (verdict.ts: accept,
 * add_header, quarantine, reject). A scanner that fails or is too slow answers `failed_open`
 * (`scanning.fail: open`: accept, logged) or `failed_closed` (the front end's 451 4.7.1). Every
 * scan is counted (`herald_scan_total{result}`) and timed (`herald_scan_duration_seconds`)
 * through the injected meter. Never throws.
 */
import type { Logger } from 'pino';
import { type ScanningConfig, scanActionsFor } from '../config/index.js';
import { checkv2, type RspamdAnswer, type ScanEnvelope } from './rspamd.js';
import { actionForScore, type ScanAction } from './verdict.js';

export {
  checkv2,
  parseAnswer,
  type RspamdAnswer,
  type RspamdTarget,
  type ScanEnvelope,
  ScanError,
} from './rspamd.js';
export { actionForScore, formatScore, type ScanAction, spamHeaders } from './verdict.js';

/** The `result` label values of herald_scan_total. */
export const SCAN_RESULTS = [
  'accept',
  'add_header',
  'quarantine',
  'reject',
  'failed_open',
  'failed_closed',
] as const;
export type ScanResult = (typeof SCAN_RESULTS)[number];

export type ScanOutcome =
  | { action: ScanAction; score: number; symbols: string[]; threshold?: number | undefined }
  | { action: 'failed_open' | 'failed_closed'; error: string };

export interface ScanMeter {
  scanned(result: ScanResult, seconds: number): void;
}

export interface Scanner {
  scan(tenant: string, envelope: ScanEnvelope, body: Buffer): Promise<ScanOutcome>;
}

export interface ScannerParts {
  scanning: ScanningConfig;
  meter?: ScanMeter | undefined;
  logger?: Logger | undefined;
  /** The HTTP exchange (default rspamd's /checkv2); tests of the decision inject one. */
  check?: (envelope: ScanEnvelope, body: Buffer) => Promise<RspamdAnswer>;
}

export function createScanner(parts: ScannerParts): Scanner {
  const { scanning, meter, logger } = parts;
  const target = {
    url: scanning.rspamd.url,
    timeoutMs: scanning.rspamd.timeout,
    password: scanning.rspamd.password,
  };
  const check = parts.check ?? ((envelope, body) => checkv2(target, envelope, body));
  return {
    async scan(tenant, envelope, body) {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const answer = await check(envelope, body);
        const actions = scanActionsFor(scanning, tenant);
        const action = actionForScore(answer.score, actions);
        meter?.scanned(action, seconds());
        return {
          action,
          score: answer.score,
          symbols: answer.symbols,
          threshold: action === 'accept' ? undefined : actions[action],
        };
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        const action = scanning.fail === 'open' ? 'failed_open' : 'failed_closed';
        meter?.scanned(action, seconds());
        logger?.warn({ err: error, queueId: envelope.queueId, fail: scanning.fail }, 'content scan failed');
        return { action, error };
      }
    },
  };
}
