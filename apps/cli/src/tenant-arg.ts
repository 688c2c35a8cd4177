/**
 * `--tenant NAME` as every maintenance command reads it: a name `send()` and SMTP users accept
 * (letters, digits and `_ . -`, starting with a letter or digit), else HERALD_INPUT_INVALID, so
 * no command writes or reads keys of a tenant no mail can have (`{queue}` would name a key in
 * the queue's hash slot: `herald:suppress:{{queue}}`).
 */
import { isTenantName } from '@herald/delivery-core/config';
import { CliExit, EXIT_FAILURE } from './command.js';

/** `value` when it names a tenant; throws CliExit (HERALD_INPUT_INVALID, exit 1) otherwise. */
export function tenantArg(value: string): string {
  if (isTenantName(value)) return value;
  throw new CliExit(
    EXIT_FAILURE,
    'HERALD_INPUT_INVALID',
    `--tenant ${JSON.stringify(value)}: not a tenant name (letters, digits and _ . -, starting with a letter or digit)`,
  );
}
