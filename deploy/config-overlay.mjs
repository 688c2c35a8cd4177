#!/usr/bin/env node
/**
 * Config overlay: joins the relay's config from files that live apart — the ConfigMap's (listeners,
 * shaping, tenants, routes) and the Secret's (users, VERP secret, Redis passwords) — into the one
 * file `herald relay --config` reads. Kubernetes runs it as the pods' init container:
 *
 *   node deploy/config-overlay.mjs --out /run/herald/herald.json [--node-id NAME] BASE SECRET...
 *
 * Owns: the merge. Guarantees: mappings are merged key by key; any other value (a scalar, a list)
 * may be set in one file only — a key set in two files is an error naming its path, so a secret
 * never silently overrides (or is overridden by) the ConfigMap; `--node-id` sets `node_id` (the
 * pod's name), which no file may set then. The result is validated as the relay validates it
 * (REDIS_URL from the environment included) before it is written, as JSON, with mode 0600, by a
 * rename (a reader never sees half a file); a problem prints `herald: <code>: <file>: <path>: …`
 * lines and exits 1, writing nothing. Needs: @herald/delivery-core (its document reader and
 * config schema: the same parse limits and messages as the relay).
 */
import { chmodSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, formatCliError, HeraldError } from '@herald/delivery-core';
import { parseConfig, readDocument } from '@herald/delivery-core/config';

/** Owner read/write only: the merged file holds every secret of the Secret. */
const OUT_FILE_MODE = 0o600;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const USAGE = 'usage: config-overlay.mjs --out FILE [--node-id NAME] BASE [OVERLAY...]';

/** @param {unknown} value */
function isMapping(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges parsed documents in order. Throws a ConfigError naming the first key set in two of them.
 * @param {{ name: string, value: unknown }[]} documents
 * @returns {Record<string, unknown>}
 */
export function overlayDocuments(documents) {
  /** @type {Record<string, unknown>} */
  const merged = {};
  /** @type {Map<string, string>} which file set each merged leaf */
  const origin = new Map();
  /** @type {import('@herald/delivery-core/config').ConfigIssue[]} */
  const issues = [];
  for (const { name, value } of documents) {
    if (value === null || value === undefined) continue; // an empty file
    if (!isMapping(value)) {
      issues.push({ path: '', message: `${name}: expected a mapping of config sections` });
      continue;
    }
    mergeInto(merged, value, '', name, origin, issues);
  }
  if (issues.length > 0) throw new ConfigError('HERALD_CONFIG_INVALID', issues);
  return merged;
}

/**
 * @param {Record<string, unknown>} target
 * @param {Record<string, unknown>} source
 * @param {string} prefix
 * @param {string} name
 * @param {Map<string, string>} origin
 * @param {{ path: string, message: string }[]} issues
 */
function mergeInto(target, source, prefix, name, origin, issues) {
  for (const [key, value] of Object.entries(source)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const existing = target[key];
    if (existing === undefined) {
      target[key] = isMapping(value) ? mergeInto({}, value, path, name, origin, issues) : value;
      if (!isMapping(value)) origin.set(path, name);
    } else if (isMapping(existing) && isMapping(value)) {
      mergeInto(existing, value, path, name, origin, issues);
    } else {
      const first = origin.get(path) ?? 'an earlier file';
      issues.push({
        path,
        message: `${name}: set in ${first} too (a key may be set in one file only)`,
      });
    }
  }
  return target;
}

/**
 * Reads BASE and the overlays, merges them, sets node_id, validates; returns the merged value.
 * @param {{ files: string[], nodeId?: string, env?: Record<string, string | undefined> }} options
 */
export function buildConfig({ files, nodeId, env = {} }) {
  const documents = files.map((file) => ({ name: file, value: readDocument(file) }));
  if (nodeId !== undefined) documents.push({ name: '--node-id', value: { node_id: nodeId } });
  const merged = overlayDocuments(documents);
  parseConfig(merged, { env, source: 'merged config' });
  return merged;
}

/** @param {string[]} argv @param {NodeJS.ProcessEnv} env @returns {number} exit status */
export function main(argv, env = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { out: { type: 'string' }, 'node-id': { type: 'string' } },
      allowPositionals: true,
    });
  } catch (err) {
    process.stderr.write(`${USAGE}\n${/** @type {Error} */ (err).message}\n`);
    return EXIT_USAGE;
  }
  const out = parsed.values.out;
  if (!out || parsed.positionals.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return EXIT_USAGE;
  }
  try {
    const nodeId = parsed.values['node-id'];
    const merged = buildConfig({
      files: parsed.positionals,
      ...(nodeId ? { nodeId } : {}),
      env: { REDIS_URL: env.REDIS_URL },
    });
    const temporary = `${out}.tmp-${process.pid}`;
    writeFileSync(temporary, `${JSON.stringify(merged, null, 2)}\n`, { mode: OUT_FILE_MODE });
    chmodSync(temporary, OUT_FILE_MODE);
    renameSync(temporary, out);
    process.stderr.write(`config-overlay: wrote ${out} from ${parsed.positionals.join(', ')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof HeraldError) {
      process.stderr.write(formatCliError(err.code, err.message));
      return EXIT_FAILURE;
    }
    throw err;
  }
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
