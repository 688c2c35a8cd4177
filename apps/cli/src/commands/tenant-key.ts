/**
 * `herald tenant key create TENANT [--label L] | list [TENANT] | revoke ID [--config FILE]`: the
 * tenant API keys of the HTTP API (delivery-core apikeys, in Redis). `create` prints the new key
 * alone on stdout (it is shown this once; Redis keeps only its SHA-256); `list` prints id, tenant,
 * label and creation time, never a secret; `revoke` deletes a key at once for every relay.
 */
import { connectRedis } from '@herald/delivery-core';
import { TenantKeyStore } from '@herald/delivery-core/apikeys';
import { isTenantName } from '@herald/delivery-core/config';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';

export const KEY_ACTIONS = ['create', 'list', 'revoke'] as const;
const CONNECT_TIMEOUT_MS = 10_000;

export const keyHelp = `       herald tenant key create TENANT [--label TEXT] [--config FILE]
       herald tenant key list [TENANT] [--config FILE]
       herald tenant key revoke ID [--config FILE]

key create  a new API key for TENANT (HTTP API, Authorization: Bearer <key>), printed alone on
            stdout: it is shown only this once
key list    every key (or TENANT's): id, tenant, label, created; never the key itself
key revoke  delete the key with this id (the part after hk_ up to the next _) on every relay`;

function checkTenant(tenant: string): void {
  if (!isTenantName(tenant))
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_INPUT_INVALID',
      `no tenant can be named "${tenant}" (letters, digits and _ . -, starting with a letter or digit)`,
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
  if (extra.length > 0) throw usageError(`tenant key ${action}`, `unexpected argument "${extra[0]}"`);
  if (action === 'create' && !subject) throw usageError('tenant key create', 'missing TENANT');
  if (action === 'revoke' && !subject) throw usageError('tenant key revoke', 'missing ID');
  if (values.label !== undefined && action !== 'create')
    throw usageError(`tenant key ${action}`, '--label is for create');
  if (subject && action !== 'revoke') checkTenant(subject);
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  const redis = await connectRedis(config.redis.url, {
    timeoutMs: CONNECT_TIMEOUT_MS,
    redis: { maxRetriesPerRequest: 1, connectTimeout: CONNECT_TIMEOUT_MS },
  });
  try {
    const store = new TenantKeyStore(redis, config.redis.prefix);
    if (action === 'create') {
      const { key } = await store.create(subject!, values.label);
      io.stdout.write(`${key}\n`);
    } else if (action === 'revoke') {
      if (!(await store.revoke(subject!.replace(/^hk_/, '').split('_')[0]!)))
        throw new CliExit(
          EXIT_FAILURE,
          'HERALD_INPUT_INVALID',
          `no key with id "${printableField(subject!)}"`,
        );
      io.stdout.write(`revoked ${printableField(subject!)}\n`);
    } else {
      const keys = await store.list(subject);
      for (const k of keys)
        io.stdout.write(
          `${[k.id, k.tenant, new Date(k.created).toISOString(), k.label ?? ''].map((f) => printableField(f)).join('  ')}\n`,
        );
      if (keys.length === 0) io.stderr.write(subject ? `no keys for tenant ${subject}\n` : 'no keys\n');
    }
  } finally {
    redis.disconnect();
  }
  return EXIT_OK;
}
