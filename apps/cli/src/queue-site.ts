/**
 * `checkQueueSite`: a SITE given to `herald queue list|flush|retry|delete|bounce` must be a name
 * delivery produces — what `herald site suspend` accepts (delivery-core's `siteNameProblem`:
 * `provider:<name>` of a known provider, `mx:<hosts>`, `route:<host>:<port>`) or `domain:<name>`
 * (every job to that domain, as queue stats and list name a job not rolled up yet). Anything else
 * would match no job and answer "0 jobs"; it is HERALD_INPUT_INVALID instead, the name escaped.
 */
import { type HeraldConfig, loadShaping } from '@herald/delivery-core';
import { siteNameProblem } from '@herald/delivery-core/sites';
import { CliExit, EXIT_FAILURE } from './command.js';
import { printableField } from './terminal-text.js';

const DOMAIN_PREFIX = 'domain:';

/** Why `site` names no queue site, or undefined when it does. */
export function queueSiteProblem(site: string, providers: readonly string[]): string | undefined {
  if (!site.startsWith(DOMAIN_PREFIX)) return siteNameProblem(site, providers);
  const domain = site.slice(DOMAIN_PREFIX.length).toLowerCase();
  if (domain !== '' && !domain.includes(',') && siteNameProblem(`mx:${domain}`, []) === undefined)
    return undefined;
  return `unknown site "${site}" (domain:<name> takes one domain name)`;
}

/** Throws HERALD_INPUT_INVALID when `site` is not a queue site (see the header). */
export function checkQueueSite(site: string, config: HeraldConfig): void {
  const problem = queueSiteProblem(site, Object.keys(loadShaping(config).providers));
  if (problem)
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_INPUT_INVALID',
      printableField(`${problem}; queue commands also take domain:<name>`),
    );
}
