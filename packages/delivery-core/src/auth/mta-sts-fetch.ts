/**
 * Fetching a domain's MTA-STS policy file (RFC 8461 §3.3): HTTPS GET of
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt`, the host name resolved by Herald's own
 * resolver (never the OS), the certificate verified for that name against `ca` (Node's bundled
 * roots plus the operator's `ca_file`). Redirects are not followed, only 200 with a text/plain
 * body of at most MAX_POLICY_BYTES counts, and the whole exchange is bounded by `timeoutMs`.
 * Throws an Error whose message says why ("HTTP 301 (redirects are not followed)", ...).
 */
import https from 'node:https';
import tls from 'node:tls';
import type { Resolver } from '../dns/index.js';

/** RFC 8461 §3.3 suggests 64 KiB as the largest policy a sender needs to accept. */
export const MAX_POLICY_BYTES = 64 * 1024;
/** The whole fetch (connect, TLS, response) of one address; RFC 8461 §3.3 asks for a timeout. */
export const POLICY_FETCH_TIMEOUT_MS = 10_000;
export const POLICY_PATH = '/.well-known/mta-sts.txt';
export const POLICY_PORT = 443;
const HTTP_OK = 200;
const POLICY_MEDIA_TYPE = 'text/plain';

export interface PolicyFetchOptions {
  resolver: Resolver;
  /** Trusted CA certificates (PEM); absent = Node's bundled roots. */
  ca?: readonly string[] | undefined;
  /** 443 except in tests. */
  port?: number;
  timeoutMs?: number;
}

/** Node's bundled roots plus `extra` (PEM text, one or more certificates); undefined without extra. */
export function trustedCas(extra: string | undefined): readonly string[] | undefined {
  return extra ? Object.freeze([...tls.rootCertificates, extra]) : undefined;
}

/** The policy file's text for `domain`, tried at each address of mta-sts.<domain> in turn. */
export async function fetchPolicyText(domain: string, options: PolicyFetchOptions): Promise<string> {
  const host = `mta-sts.${domain}`;
  const addresses = await options.resolver.resolveAddresses(host);
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  let lastError: Error | undefined;
  for (const address of addresses) {
    try {
      return await fetchFrom(host, address, options);
    } catch (err) {
      lastError = err as Error;
      // Only a failure to reach this address moves on; an answer that is wrong is final.
      if (!(err as { unreachable?: boolean }).unreachable) break;
    }
  }
  throw lastError ?? new Error(`${host} has no address`);
}

function fetchFrom(host: string, address: string, options: PolicyFetchOptions): Promise<string> {
  const port = options.port ?? POLICY_PORT;
  const timeoutMs = options.timeoutMs ?? POLICY_FETCH_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, text?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(text ?? '');
    };
    const req = https.request(
      {
        host: address,
        port,
        path: POLICY_PATH,
        method: 'GET',
        servername: host,
        headers: { host: port === POLICY_PORT ? host : `${host}:${port}`, accept: POLICY_MEDIA_TYPE },
        agent: false,
        rejectUnauthorized: true,
        ...(options.ca ? { ca: [...options.ca] } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== HTTP_OK) {
          const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
          return finish(new Error(`https://${host}${POLICY_PATH}: HTTP ${status}${redirect}`));
        }
        const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== POLICY_MEDIA_TYPE)
          return finish(new Error(`https://${host}${POLICY_PATH}: content-type ${type || 'missing'}`));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_POLICY_BYTES)
            finish(new Error(`https://${host}${POLICY_PATH}: larger than ${MAX_POLICY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (err) => finish(err));
      },
    );
    const timer = setTimeout(
      () => finish(new Error(`https://${host}${POLICY_PATH}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const unreachable = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'].includes(
        err.code ?? '',
      );
      finish(Object.assign(new Error(`https://${host}${POLICY_PATH}: ${err.message}`), { unreachable }));
    });
    req.end();
  });
}
