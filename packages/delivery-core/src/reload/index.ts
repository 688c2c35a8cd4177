/**
 * Live reload's pure parts. Owns: which config sections a running relay takes from a reloaded
 * file (`LIVE_PATHS`; the bounce-processor's `BOUNCE_PROCESSOR_LIVE_PATHS`; `planReload`: the effective config and the "needs restart" paths, never a
 * value) and the version of a config a process runs (`configHash`).
 * Guarantees: a path outside LIVE_PATHS keeps its running value; equal inputs hash equally.
 * Needs injected: the running and the newly parsed config; the loaded shaping and DKIM keys.
 */
export { CONFIG_HASH_HEX_CHARS, type ConfigVersionInput, configHash } from './hash.js';
export {
  BOUNCE_PROCESSOR_LIVE_PATHS,
  LIVE_PATHS,
  type LivePath,
  planReload,
  type ReloadPlan,
} from './plan.js';
