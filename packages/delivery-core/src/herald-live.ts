/**
 * What a live reload swaps in Herald (createHerald's composition root wires it): the config in
 * force and what is built from it — intake (its DKIM keys and tenants), feedback, explain — with
 * the shaping file and DKIM keys as loaded and the config version (`configHash`).
 * `reload(read)` plans the new file against the running config (reload's `planReload`: live
 * sections in, other changed paths "needs restart"), reads the shaping file and DKIM keys again,
 * builds the next set, hands the shaping runtime its new file, and only then swaps: a reload is
 * applied whole or not at all, and nothing in flight is touched. Every outcome is logged and set
 * in the config metrics (`herald_config_info`, reloads, failures).
 * Needs injected: the parts intake, feedback and explain are built from, the shaping runtime's
 * `useShaping` and `liveState`, the metrics and the logger.
 */
import type { Logger } from 'pino';
import { ConfigError, type HeraldConfig } from './config/index.js';
import type { Resolver } from './dns/index.js';
import type { RedisEventSink } from './events/index.js';
import { createExplainer, type Explainer } from './explain/index.js';
import { createFeedback, type Feedback, type FeedbackParts } from './feedback/index.js';
import type { ReloadResult } from './herald-api.js';
import { createIntake, type Intake } from './intake/index.js';
import type { HeraldMetrics } from './metrics/index.js';
import { loadDkim, loadShaping } from './preflight.js';
import type { HeldMessage } from './quarantine/index.js';
import type { Spool } from './queue/index.js';
import { configHash, planReload } from './reload/index.js';
import { createScanner } from './scan/index.js';
import type { Shaping, ShapingRuntime } from './shaping/index.js';
import type { SuppressionList } from './suppression/index.js';
import type { Tracer } from './telemetry/index.js';

export interface LiveParts extends Omit<FeedbackParts, 'config'> {
  suppression: SuppressionList;
  spool: Spool;
  events: RedisEventSink;
  resolver: Resolver;
  shapingRuntime: Pick<ShapingRuntime, 'useShaping' | 'liveState'>;
  /** The site of a destination under a shaping file (the sites module's rules built from it). */
  siteOf: (shaping: Shaping) => Parameters<ShapingRuntime['useShaping']>[0]['siteOf'];
  metrics: HeraldMetrics;
  logger: Logger;
  /** The Herald's tracer (telemetry/): intake's accept and enqueue spans. */
  tracer: Tracer;
  /** Where the scan stage holds messages (quarantine/). */
  quarantine: { hold(message: HeldMessage): Promise<void> };
}

/** What is built from the config in force. */
export interface Live {
  config: HeraldConfig;
  shaping: Shaping;
  dkim: ReturnType<typeof loadDkim>;
  intake: Intake;
  /** The throwing spool step Herald's own mail (DSNs) goes through. */
  spoolOwn: ReturnType<typeof createIntake>['spoolOwn'];
  feedback: Feedback;
  explain: Explainer;
  /** The config version (reload's configHash). */
  hash: string;
}

export interface LiveConfig {
  current(): Live;
  /** `live`: the config paths this process takes from the file (default reload's LIVE_PATHS). */
  reload(read: () => HeraldConfig, live?: readonly string[]): ReloadResult;
}

export function createLiveConfig(
  parts: LiveParts,
  initial: { config: HeraldConfig; shaping: Shaping; dkim: ReturnType<typeof loadDkim> },
): LiveConfig {
  const { metrics, logger } = parts;
  const build = (config: HeraldConfig, shaping: Shaping, dkim: ReturnType<typeof loadDkim>): Live => {
    const scan = config.scanning && {
      scanner: createScanner({ scanning: config.scanning, meter: metrics.scanMeter, logger }),
      quarantine: parts.quarantine,
    };
    const { intake, spoolOwn } = createIntake({ ...parts, config, dkim, scan });
    return {
      config,
      shaping,
      dkim,
      intake,
      spoolOwn,
      feedback: createFeedback({ ...parts, config }),
      explain: createExplainer({
        config,
        shaping,
        resolver: parts.resolver,
        liveState: (path) => parts.shapingRuntime.liveState(path),
      }),
      hash: configHash({
        config,
        shaping,
        dkimPublicKeys: dkim?.store.keys.map((key) => key.publicKey) ?? [],
      }),
    };
  };
  let live = build(initial.config, initial.shaping, initial.dkim);
  metrics.config.running(live.hash);

  return {
    current: () => live,
    reload(read, livePaths) {
      try {
        const plan = planReload(live.config, read(), livePaths);
        const config = plan.effective;
        const next = build(config, loadShaping(config), loadDkim(config, logger));
        parts.shapingRuntime.useShaping({
          shaping: next.shaping,
          siteOf: parts.siteOf(next.shaping),
          config,
        });
        const previousHash = live.hash;
        live = next;
        metrics.config.running(next.hash);
        metrics.config.reloaded(plan.needsRestart);
        const { applied, needsRestart } = plan;
        const result = { ok: true as const, hash: next.hash, previousHash, applied, needsRestart };
        logger.info(result, 'config reloaded');
        if (needsRestart.length > 0)
          logger.warn(
            { needsRestart },
            'config reload: these keys changed and need a restart; they keep their running values',
          );
        return result;
      } catch (err) {
        // A ConfigError names files and key paths, never a secret; anything else is our fault.
        const code = err instanceof ConfigError ? err.code : 'HERALD_INTERNAL';
        const error = err instanceof ConfigError ? err.message : `unexpected: ${(err as Error).message}`;
        metrics.config.failed(error);
        logger.error({ code, problems: error }, 'config reload refused: the running config is kept');
        return { ok: false, hash: live.hash, error, code };
      }
    },
  };
}
