/**
 * Loading the configuration: `parseConfig` validates a value (REDIS_URL from an env passed in),
 * fills defaults and deep-freezes it; `loadConfigFile` reads a YAML/JSON file first. Errors are
 * ConfigErrors that name the file and the key path and never quote a secret (config-error.ts).
 */
import { randomBytes } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, toConfigIssues } from './config-error.js';
import { deepFreeze, isPlainObject, readDocument, withoutNulls } from './document.js';
import { type HeraldConfig, heraldConfigSchema } from './schema.js';
import { GENERATED_SECRET_PLACEHOLDER } from './schema-bounce.js';
import { EXCLUSIVE_REDIS_MESSAGE } from './schema-redis.js';
import { secretsIn } from './secrets.js';

export type Env = Record<string, string | undefined>;
export interface ParseConfigOptions {
  /** Environment to take REDIS_URL from; process.env is not read unless passed here. */
  env?: Env;
  /** File name (or other label) to prefix error lines with. */
  source?: string;
}

export const REDIS_URL_ENV = 'REDIS_URL';

/** Validates `input`, applies REDIS_URL from opts.env, fills defaults and deep-freezes the result. */
export function parseConfig(input: unknown, opts: ParseConfigOptions = {}): HeraldConfig {
  const raw = withoutNulls(input ?? {}, opts.source);
  const redisUrl = opts.env?.[REDIS_URL_ENV];
  const fromEnv = redisUrl !== undefined && redisUrl !== '' && isPlainObject(raw);
  if (fromEnv) {
    const redis = isPlainObject(raw.redis) ? raw.redis : {};
    raw.redis = { ...redis, url: redisUrl };
  }
  const result = heraldConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const issues = toConfigIssues(result.error, heraldConfigSchema, secretsIn(raw)).map((issue) =>
      fromEnv && issue.path === 'redis.url'
        ? { ...issue, message: `${issue.message} (from ${REDIS_URL_ENV})` }
        : fromEnv && issue.path === 'redis.cluster' && issue.message === EXCLUSIVE_REDIS_MESSAGE
          ? { ...issue, message: `${issue.message} (redis.url from ${REDIS_URL_ENV})` }
          : issue,
    );
    throw new ConfigError('HERALD_CONFIG_INVALID', issues, opts.source);
  }
  return deepFreeze(result.data);
}

/** The configuration with every default, plus `overrides` (same shape as a config file). */
export function defaultConfig(overrides?: unknown): HeraldConfig {
  return parseConfig(overrides ?? {}, { source: 'defaultConfig' });
}

/**
 * Makes the file paths a config names (smtp.tls.cert_file / key_file, shaping.file,
 * bounce.rules_file, dkim[].key_file, delivery.mta_sts.ca_file) absolute, relative to `folder`
 * (the config file's). Exported for a tool that copies a config elsewhere (`npm start` writes
 * .herald/herald.yaml), so the copy names the same files.
 */
export function resolveFilePaths(raw: unknown, folder: string): unknown {
  if (!isPlainObject(raw)) return raw;
  const absolute = (section: unknown, keys: string[]) => {
    if (!isPlainObject(section)) return section;
    const out: Record<string, unknown> = { ...section };
    for (const key of keys) {
      const value = out[key];
      if (typeof value === 'string' && value !== '' && !isAbsolute(value)) out[key] = resolve(folder, value);
    }
    return out;
  };
  const out: Record<string, unknown> = { ...raw };
  if (isPlainObject(raw.smtp) && isPlainObject(raw.smtp.tls)) {
    out.smtp = { ...raw.smtp, tls: absolute(raw.smtp.tls, ['cert_file', 'key_file']) };
  }
  if (isPlainObject(raw.shaping)) out.shaping = absolute(raw.shaping, ['file']);
  if (isPlainObject(raw.bounce)) out.bounce = absolute(raw.bounce, ['rules_file']);
  if (Array.isArray(raw.dkim)) out.dkim = raw.dkim.map((entry) => absolute(entry, ['key_file']));
  if (isPlainObject(raw.delivery) && isPlainObject(raw.delivery.mta_sts)) {
    out.delivery = { ...raw.delivery, mta_sts: absolute(raw.delivery.mta_sts, ['ca_file']) };
  }
  return out;
}

export interface LoadFileOptions {
  env?: Env;
  /**
   * For commands that never sign a VERP return path (all but the relay and the
   * bounce-processor): a `bounce.verp_secret` of "generate" (npm start's placeholder, refused
   * otherwise) is taken as a random stand-in, and this is called with the key path.
   */
  onGeneratedSecret?: (path: string) => void;
}

/** Bytes of the random stand-in for a "generate" VERP secret (never used to sign). */
const STAND_IN_SECRET_BYTES = 32;

/** `raw` with a "generate" bounce.verp_secret replaced by a random stand-in, if it has one. */
function withStandInSecret(raw: unknown, onGenerated: (path: string) => void): unknown {
  if (!isPlainObject(raw)) return raw;
  const bounce = raw.bounce;
  if (!isPlainObject(bounce) || typeof bounce.verp_secret !== 'string') return raw;
  if (bounce.verp_secret.trim().toLowerCase() !== GENERATED_SECRET_PLACEHOLDER) return raw;
  onGenerated('bounce.verp_secret');
  return {
    ...raw,
    bounce: { ...bounce, verp_secret: randomBytes(STAND_IN_SECRET_BYTES).toString('base64') },
  };
}

/** Reads a .yaml, .yml or .json config file and parses it; errors name the file. */
export function loadConfigFile(path: string, opts: LoadFileOptions = {}): HeraldConfig {
  let raw = resolveFilePaths(readDocument(path), dirname(resolve(path)));
  if (opts.onGeneratedSecret) raw = withStandInSecret(raw, opts.onGeneratedSecret);
  return parseConfig(raw, { env: opts.env ?? {}, source: path });
}
