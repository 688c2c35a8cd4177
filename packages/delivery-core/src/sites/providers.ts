/**
 * The provider rules table: which mailbox providers Herald recognises from a domain's MX hosts,
 * so that every domain a provider hosts shares that provider's traffic-shaping limits.
 *
 * Owns: the data (PROVIDER_RULES) and the one matching rule (`matchProvider`). Guarantees:
 * suffixes match on label boundaries ("x.google.com" matches ".google.com", "evilgoogle.com" does
 * not); a provider is chosen only when EVERY MX host matches that one provider's suffixes (the
 * KumoMTA-style conservative rule: a domain whose backup MX is elsewhere is not lumped in with
 * the provider); the first rule in table order wins. Pure: no I/O.
 *
 * Sources: each suffix names where it is documented or observed. "Observed" means the public MX
 * records of the provider's own consumer domains (`dig MX <domain>`), as widely reproduced in
 * deliverability guides; re-check them when a provider changes its infrastructure.
 */

export type ProviderName =
  | 'gmail'
  | 'microsoft'
  | 'yahoo'
  | 'apple'
  | 'comcast'
  | 'gmx'
  | 'orange'
  | 'mailru'
  | 'yandex'
  | 'qq'
  | 'zoho'
  | 'proton'
  | 'fastmail';

export interface ProviderRule {
  provider: ProviderName;
  /** MX host suffixes, lower-case, each starting with "."; matched on label boundaries. */
  match: { mxSuffix: readonly string[] };
  /** Who this covers and where the suffixes come from. */
  note: string;
}

export const PROVIDER_RULES: readonly ProviderRule[] = [
  {
    provider: 'gmail',
    // Google Workspace MX records (aspmx.l.google.com, alt1..4.aspmx.l.google.com and the newer
    // single smtp.google.com): support.google.com/a/answer/174125. gmail.com itself: observed
    // gmail-smtp-in.l.google.com. Legacy Workspace setups list aspmx2..5.googlemail.com.
    match: { mxSuffix: ['.google.com', '.googlemail.com'] },
    note: 'Gmail and Google Workspace',
  },
  {
    provider: 'microsoft',
    // Microsoft 365 tenants: <domain-tld>.mail.protection.outlook.com, "External DNS records for
    // Office 365" (learn.microsoft.com/microsoft-365/enterprise/external-domain-name-system-records).
    // outlook.com / hotmail.com / live.com: observed *-com.olc.protection.outlook.com; legacy
    // mx*.hotmail.com.
    match: { mxSuffix: ['.protection.outlook.com', '.outlook.com', '.hotmail.com'] },
    note: 'Outlook.com, Hotmail, Live and Microsoft 365 (Exchange Online Protection)',
  },
  {
    provider: 'yahoo',
    // Observed: yahoo.com → mta5/6/7.am0.yahoodns.net; aol.com → mx-aol.mail.gm0.yahoodns.net
    // (AOL mail runs on Yahoo's inbound platform).
    match: { mxSuffix: ['.yahoodns.net'] },
    note: 'Yahoo Mail and AOL',
  },
  {
    provider: 'apple',
    // iCloud Mail and iCloud+ custom email domains: mx01.mail.icloud.com, mx02.mail.icloud.com
    // (Apple's custom-domain setup instructions; observed on icloud.com, me.com, mac.com).
    match: { mxSuffix: ['.mail.icloud.com', '.icloud.com'] },
    note: 'iCloud Mail (icloud.com, me.com, mac.com, custom domains)',
  },
  {
    provider: 'comcast',
    // Observed: comcast.net → mx1h1.comcast.net, mx2c1.comcast.net (and siblings).
    match: { mxSuffix: ['.comcast.net'] },
    note: 'Comcast / Xfinity',
  },
  {
    provider: 'gmx',
    // Observed: gmx.net/gmx.de → mx00/mx01.gmx.net; gmx.com → mx00/mx01.gmx.com;
    // web.de → mx-ha02/mx-ha03.web.de. One operator (United Internet / 1&1 Mail & Media).
    match: { mxSuffix: ['.gmx.net', '.gmx.com', '.web.de'] },
    note: 'GMX and WEB.DE',
  },
  {
    provider: 'orange',
    // Observed: orange.fr and wanadoo.fr → smtp-in.orange.fr.
    match: { mxSuffix: ['.orange.fr'] },
    note: 'Orange / Wanadoo (France)',
  },
  {
    provider: 'mailru',
    // Observed: mail.ru, bk.ru, inbox.ru, list.ru → mxs.mail.ru.
    match: { mxSuffix: ['.mail.ru'] },
    note: 'Mail.ru group mailboxes',
  },
  {
    provider: 'yandex',
    // Observed: yandex.ru → mx.yandex.ru; Yandex 360 for business domains → mx.yandex.net
    // (Yandex 360 domain setup help).
    match: { mxSuffix: ['.yandex.net', '.yandex.ru'] },
    note: 'Yandex Mail and Yandex 360',
  },
  {
    provider: 'qq',
    // Observed: qq.com → mx1/mx2/mx3.qq.com; Tencent Exmail business domains → mxbiz1/mxbiz2.qq.com.
    match: { mxSuffix: ['.qq.com'] },
    note: 'QQ Mail and Tencent Exmail',
  },
  {
    provider: 'zoho',
    // Zoho Mail custom-domain MX: mx.zoho.com, mx2.zoho.com, mx3.zoho.com; regional mx.zoho.eu,
    // mx.zoho.in (Zoho Mail "Configure MX records" help).
    match: { mxSuffix: ['.zoho.com', '.zoho.eu', '.zoho.in'] },
    note: 'Zoho Mail',
  },
  {
    provider: 'proton',
    // Proton Mail custom-domain MX: mail.protonmail.ch, mailsec.protonmail.ch (Proton's custom
    // domain DNS setup guide).
    match: { mxSuffix: ['.protonmail.ch'] },
    note: 'Proton Mail',
  },
  {
    provider: 'fastmail',
    // Fastmail custom-domain MX: in1-smtp.messagingengine.com, in2-smtp.messagingengine.com
    // (Fastmail's custom domain DNS help).
    match: { mxSuffix: ['.messagingengine.com'] },
    note: 'Fastmail',
  },
];

/** Lower-cases and strips a trailing dot. */
export function normaliseHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/** True when `host` is the suffix's own name or a name under it (label boundary). */
export function hostMatchesSuffix(host: string, suffix: string): boolean {
  const name = normaliseHost(host);
  const bare = normaliseHost(suffix).replace(/^\.+/, '');
  if (bare === '') return false;
  return name === bare || name.endsWith(`.${bare}`);
}

function ruleCovers(rule: ProviderRule, host: string): boolean {
  return rule.match.mxSuffix.some((suffix) => hostMatchesSuffix(host, suffix));
}

/**
 * The first rule (in table order) that covers EVERY host of `mxHosts`; undefined when the list is
 * empty or no single rule covers them all (e.g. Google primary with an on-premises backup MX).
 */
export function matchProvider(
  mxHosts: readonly string[],
  rules: readonly ProviderRule[] = PROVIDER_RULES,
): ProviderRule | undefined {
  if (mxHosts.length === 0) return undefined;
  return rules.find((rule) => mxHosts.every((host) => ruleCovers(rule, host)));
}
