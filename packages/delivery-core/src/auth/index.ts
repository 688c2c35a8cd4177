/**
 * Sender authentication. DKIM: the key store (`loadDkimKeys`: every `dkim:` key read at start,
 * bad keys fail the start with their config path; `select` picks a message's signatures by time,
 * tenant and From domain) and the signer (relaxed/relaxed, rsa-sha256 or ed25519-sha256 after the
 * key, over-signed From/Subject/Date/To) that intake runs once before a message is spooled.
 * Needs injected: the config's `dkim` list and a clock (`now`).
 */
export {
  authorDomain,
  type HeaderField,
  relaxedBody,
  relaxedBodyHash,
  relaxedHeader,
  type SplitMessage,
  splitMessage,
} from './dkim-canon.js';
export {
  type DkimAlgorithm,
  type DkimKey,
  type DkimKeyEntry,
  DkimKeyStore,
  dkimDnsRecord,
  type LoadDkimKeysOptions,
  loadDkimKeys,
  RSA_MIN_BITS,
  RSA_RECOMMENDED_BITS,
  readDkimKey,
  type SigningContext,
} from './dkim-keys.js';
export {
  createDkimSigner,
  type DkimSigner,
  dkimSignatureFields,
  OVERSIGNED_HEADERS,
  SIGNED_HEADERS,
  signedHeaderNames,
} from './dkim-sign.js';
export { type DkimVerification, mailauthTxtResolver, verifyDkim } from './dkim-verify.js';
export {
  FETCH_RETRY_MS,
  type MtaStsOptions,
  MtaStsPolicies,
  type MtaStsStats,
  NO_POLICY_RECHECK_MS,
  TXT_RECHECK_MS,
} from './mta-sts.js';
export { mtaStsTlsPolicy, type TlsPolicy } from './mta-sts-config.js';
export { fetchPolicyText, MAX_POLICY_BYTES, POLICY_FETCH_TIMEOUT_MS, trustedCas } from './mta-sts-fetch.js';
export {
  isStsRecord,
  MAX_POLICY_AGE_S,
  type MtaStsMode,
  type MtaStsPolicy,
  mxMatches,
  parsePolicy,
  parseStsRecord,
} from './mta-sts-policy.js';
