/**
 * The Gmail/Yahoo bulk-sender rules (February 2024), one row each, summarised from the other
 * checks and the config: `bulk.authentication` (SPF and DKIM pass), `bulk.dmarc` (a DMARC record
 * with an aligned identifier), `bulk.ptr` (forward-confirmed reverse DNS for every sending IP),
 * `bulk.tls` (delivery over TLS), `bulk.unsubscribe` (one-click List-Unsubscribe, RFC 8058) and
 * `bulk.spam-rate` (under 0.3 %: not visible in DNS, where to look). Pure.
 */
import type { CheckResult, CheckStatus, SenderSetup } from './types.js';
import { verdict, worst } from './verdict.js';

/** Gmail's spam-rate ceiling for bulk senders, as a fraction. */
export const BULK_SPAM_RATE_LIMIT = 0.003;

/** fail when a rule's inputs fail, info when one could not be judged, else pass (warnings are not breaches). */
function summarise(id: string, inputs: CheckResult[], rule: string, missing?: string): CheckResult {
  const failing = inputs.filter((c) => c.status === 'fail');
  const unknown = inputs.filter((c) => c.status === 'info');
  const ids = (cs: CheckResult[]) => cs.map((c) => c.id).join(', ');
  let status: CheckStatus = worst(inputs.map((c) => (c.status === 'warn' ? 'pass' : c.status)));
  if (missing !== undefined && status === 'pass') status = 'info';
  if (status === 'fail')
    return verdict(id, 'fail', `${rule}: not met (${ids(failing)})`, `Fix ${ids(failing)} above.`);
  if (status === 'info')
    return verdict(
      id,
      'info',
      `${rule}: not verified (${missing ?? `unknown: ${ids(unknown)}`})`,
      'Run with --config and --ip to check it.',
    );
  return verdict(id, 'pass', `${rule}: met`);
}

function unsubscribeRow(setup: SenderSetup | undefined): CheckResult {
  const id = 'bulk.unsubscribe';
  const rule = 'one-click unsubscribe (List-Unsubscribe + List-Unsubscribe-Post) on bulk mail';
  if (!setup)
    return verdict(
      id,
      'info',
      `${rule}: tenant settings unknown without --config`,
      'Run with --config FILE.',
    );
  const bulk = setup.unsubscribe.filter((u) => u.streams.length > 0);
  const oneClick = bulk.filter((u) => u.https);
  if (oneClick.length > 0)
    return verdict(
      id,
      'pass',
      `${rule}: added for ${oneClick.map((u) => `${u.tenant} (${u.streams.join(', ')})`).join('; ')}`,
    );
  if (bulk.length > 0)
    return verdict(
      id,
      'warn',
      `${rule}: mailto: link only (tenants ${bulk.map((u) => u.tenant).join(', ')}); one-click (RFC 8058) needs an https: URL`,
      'Set tenants.<name>.list_unsubscribe.https to your unsubscribe endpoint.',
    );
  return verdict(
    id,
    'warn',
    `${rule}: no tenant has list_unsubscribe, so Herald adds none (fine only if your application adds both headers)`,
    'Set tenants.<name>.list_unsubscribe { https, mailto, streams: [bulk] } for tenants that send bulk mail.',
  );
}

function tlsRow(setup: SenderSetup | undefined): CheckResult {
  const id = 'bulk.tls';
  const rule = 'deliver over TLS';
  if (!setup)
    return verdict(
      id,
      'info',
      `${rule}: Herald uses STARTTLS whenever offered unless the config turns it off (not read without --config)`,
    );
  if (setup.tlsOff.length > 0)
    return verdict(
      id,
      'warn',
      `${rule}: TLS is off for ${setup.tlsOff.join(', ')}`,
      'Remove tls: none for Gmail, Yahoo and the defaults.',
    );
  return verdict(
    id,
    'pass',
    `${rule}: STARTTLS whenever the receiver offers it (MTA-STS on your own domain is advisory)`,
  );
}

export function bulkSenderChecks(
  checks: CheckResult[],
  setup: SenderSetup | undefined,
  ips: string[],
): CheckResult[] {
  const pick = (test: (id: string) => boolean) => checks.filter((c) => test(c.id));
  const auth = pick(
    (id) => id === 'spf.record' || id === 'spf.ips' || id === 'return-path' || id.startsWith('dkim'),
  );
  const noIps = ips.length === 0 ? 'no source IPs known' : undefined;
  return [
    summarise('bulk.authentication', auth, 'SPF and DKIM both pass for the domain'),
    summarise(
      'bulk.dmarc',
      pick((id) => id.startsWith('dmarc.')),
      'DMARC published (p=none at least) with SPF or DKIM aligned',
    ),
    summarise(
      'bulk.ptr',
      pick((id) => id.startsWith('ptr.')),
      'sending IPs have forward-confirmed reverse DNS',
      noIps,
    ),
    tlsRow(setup),
    unsubscribeRow(setup),
    verdict(
      'bulk.spam-rate',
      'info',
      `spam rate under ${BULK_SPAM_RATE_LIMIT * 100} % (aim under 0.1 %): not visible in DNS`,
      "Watch Google Postmaster Tools (postmaster.google.com) and Yahoo Sender Hub; Herald pauses a tenant's bulk mail over tenants.<name>.complaint_rate_threshold.",
    ),
  ];
}
