/**
 * `herald tenant key create TENANT [--label L] | list [TENANT] | revoke ID [--config FILE]`: the
 * tenant API keys of the HTTP API (delivery-core apikeys, in Redis). `create` prints the new key
 * alone on stdout (it is shown this once; Redis keeps only its SHA-256); `list` prints id, tenant,
 * label and creation time, never a secret; `revoke` deletes a key at once for every relay.
 */
import { connectRedis, redisTarget } from '@herald/delivery-core';
import { isApiKeyId, TenantKeyStore } from '@herald/delivery-core/apikeys';
import { isTenantName } from '@herald/delivery-core/config';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField, table } from '../terminal-text.js';

export const KEY_ACTIONS = ['create', 'list', 'revoke'] as const;
const CONNECT_TIMEOUT_MS = 10_000;
/** The text `key list`'s columns (--json has none). */
const KEY_LIST_HEADER = ['ID', 'TENANT', 'CREATED', 'LABEL'];

export const keyHelp = `       herald tenant key create TENANT [--label TEXT] [--config FILE]
       herald tenant key list [TENANT] [--config FILE]
       herald tenant key revoke ID [--config FILE]

key create  a new API key for TENANT (HTTP API, Authorization: Bearer <key>), printed alone on
            stdout: it is shown only this once
key list    every key (or TENANT's): id, tenant, label, created; never the key itself
key revoke  delete the key with this id (the part after hk_ up to the next _) on every relay`;

/** A whole key's secret part (after `hk_<id>_`), wherever one appears in an argument. */
const KEY_SECRET = /(hk_[^_\s]*_)[^\s"]+/g;

/** `text` for a message: a key's secret part replaced by `…`, control characters escaped. */
export function withoutSecret(text: string): string {
  return printableField(text.replace(KEY_SECRET, '$1…'));
}

/** The key id in `subject`: a whole key `hk_<id>_<secret>`, `hk_<id>` or the bare id. */
export function keyIdOf(subject: string): string {
  return subject.replace(/^hk_/, '').split('_')[0]!;
}

function checkTenant(tenant: string): void {
  if (!isTenantName(tenant) || tenant.startsWith('hk_'))
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_INPUT_INVALID',
      `no tenant can be named "${withoutSecret(tenant)}" (letters, digits and _ . -, starting with a letter or digit${tenant.startsWith('hk_') ? '; hk_… is a key, not a tenant' : ''})`,
    );
}

export async function runTenantKey(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'tenant key',
    args,
    { config: { type: 'string', short: 'c' }, label: { type: 'string' } },
    true,
  );
  const [action, subject, ...extra] = positionals;
  if (!KEY_ACTIONS.includes(action as (typeof KEY_ACTIONS)[number]))
    throw usageError(
      'tenant key',
      action === undefined ? `missing action (${KEY_ACTIONS.join(', ')})` : `unknown action "${action}"`,
    );
  if (extra.length > 0)
    throw usageError(`tenant key ${action}`, `unexpected argument "${withoutSecret(extra[0]!)}"`);
  if (action === 'create' && !subject) throw usageError('tenant key create', 'missing TENANT');
  if (action === 'revoke' && !subject) throw usageError('tenant key revoke', 'missing ID');
  if (values.label !== undefined && action !== 'create')
    throw usageError(`tenant key ${action}`, '--label is for create');
  if (subject && action !== 'revoke') checkTenant(subject);
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  const redis = await connectRedis(redisTarget(config.redis), {
    timeoutMs: CONNECT_TIMEOUT_MS,
    redis: { maxRetriesPerRequest: 1, connectTimeout: CONNECT_TIMEOUT_MS },
  });
  try {
    const store = new TenantKeyStore(redis, config.redis.prefix);
    if (action === 'create') {
      const { key } = await store.create(subject!, values.label);
      io.stdout.write(`${key}\n`);
    } else if (action === 'revoke') {
      const id = keyIdOf(subject!);
      if (!(await store.revoke(id)))
        throw new CliExit(
          EXIT_FAILURE,
          'HERALD_INPUT_INVALID',
          isApiKeyId(id)
            ? `no key with id ${id} (revoked already, or another Redis/prefix: check --config)`
            : `"${withoutSecret(id)}" is not a key id (16 hex characters: the part after hk_ up to the next _)`,
        );
      io.stdout.write(`revoked ${id}\n`);
    } else {
      const keys = await store.list(subject);
      const rows = keys.map((k) =>
        [k.id, k.tenant, new Date(k.created).toISOString(), k.label ?? ''].map((f) => printableField(f)),
      );
      if (keys.length > 0) for (const line of table([KEY_LIST_HEADER, ...rows])) io.stdout.write(`${line}\n`);
      if (keys.length === 0) io.stderr.write(subject ? `no keys for tenant ${subject}\n` : 'no keys\n');
    }
  } finally {
    redis.disconnect();
  }
  return EXIT_OK;
}
