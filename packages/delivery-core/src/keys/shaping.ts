/**
 * The names shaping uses for its Redis state, in one place so the gate, the SMTP pool's leases
 * and the operator commands (`herald shaping explain`, `herald site`) agree. Most are names
 * inside the throttle primitives (GCRA `<prefix>:gcra:<name>`, semaphore `<prefix>:sem:<name>`,
 * cap `<prefix>:cap:<name>`) and ParkedJobs lists; a lane is a site, or `<site>@<source IP>` when
 * mail leaves from a pool IP. A site's condition (suspension, rate cut, source suspensions) is
 * read with one MGET and lifted with one DEL, so its keys carry the site as hash tag
 * (`{<site>}`); a lane's connection leases and window are read by one script, so they carry the
 * lane as hash tag (`{<lane>}`); every other key here is used alone and has none. Pure key math.
 */

export function laneOf(site: string, sourceIp?: string): string {
  return sourceIp ? `${site}@${sourceIp}` : site;
}

/** Prefix of the semaphore keys of connection leases. */
export const CONNECTION_LEASE_PREFIX = 'conn:';

/**
 * Semaphore key: one lease per open SMTP connection of the lane. Tagged by the lane (`{<lane>}`),
 * like its window (laneWindowKey), so a lease is taken under the live window in one script.
 */
export function connectionLeaseKey(lane: string): string {
  return `${CONNECTION_LEASE_PREFIX}{${lane}}`;
}

/** The lane of a connectionLeaseKey (the inverse; a key of another shape is returned as it is). */
export function laneOfConnectionLeaseKey(key: string): string {
  const name = key.startsWith(CONNECTION_LEASE_PREFIX) ? key.slice(CONNECTION_LEASE_PREFIX.length) : key;
  return name.startsWith('{') && name.endsWith('}') ? name.slice(1, -1) : name;
}

/** GCRA key of the lane's max_connection_rate. */
export function connectionRateKey(lane: string): string {
  return `conn-rate:${lane}`;
}

/** GCRA key of the lane's max_message_rate. */
export function laneRateKey(lane: string): string {
  return `site:${lane}`;
}

/** GCRA keys of a tenant's and one of its campaigns' max_message_rate. */
export function tenantRateKey(tenant: string): string {
  return `tenant:${tenant.toLowerCase()}`;
}

export function campaignRateKey(tenant: string, campaign: string): string {
  return `campaign:${tenant.toLowerCase()}:${campaign}`;
}

/** DailyCap key: recipients a warming IP sent to a site on the UTC day of `now`. */
export function warmupCapKey(sourceIp: string, site: string, now: number): string {
  return `warmup:${sourceIp}:${site}:${utcDayName(now)}`;
}

/** The UTC day of `now` as "YYYY-MM-DD" (shaping's utcDayName; here so keys import nothing). */
function utcDayName(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** ParkedJobs key of the jobs held by a site's suspension; `herald site resume` wakes them. */
export function siteHoldKey(site: string): string {
  return `suspended:${site}`;
}

/** ParkedJobs key of a paused tenant's bulk jobs; `herald tenant resume` wakes them. */
export function tenantParkKey(tenant: string): string {
  return `tenant:${tenant.toLowerCase()}`;
}

/** What a ParkedJobs key holds jobs for: a lane's connection slot, a site suspension, a tenant pause. */
export type ParkedKind = 'slot' | 'suspended' | 'tenant-paused';

/** The kind of a ParkedJobs key (a lane is a site name, never `suspended:` or `tenant:`). */
export function parkedKindOf(key: string): ParkedKind {
  if (key.startsWith('suspended:')) return 'suspended';
  if (key.startsWith('tenant:')) return 'tenant-paused';
  return 'slot';
}

/**
 * The lane's concurrency window (concurrency.ts): a decimal string, tagged by the lane like its
 * connection leases (read together by the lease script).
 */
export function laneWindowKey(prefix: string, lane: string): string {
  return `${prefix}:site:{${lane}}:window`;
}

/** What SiteState keeps per site: suspension, rate cut, source IP suspensions, rule counters. */
export type SiteStateField = 'suspended' | 'slow' | 'sources' | `rule:${number}`;

/** One of the site's condition keys: `<prefix>:site:{<site>}:<field>` (tagged by site). */
export function siteStateKey(prefix: string, site: string, field: SiteStateField): string {
  return `${prefix}:site:{${site}}:${field}`;
}

/** A ParkedJobs list (sorted set) of a lane, `suspended:<site>` or `tenant:<tenant>`; used alone. */
export function parkedJobsKey(prefix: string, key: string): string {
  return `${prefix}:site:${key}:parked-jobs`;
}
