/**
 * Delivering a TLS report to an `https:` rua (RFC 8460 §5.3.1): POST of the gzip-compressed JSON
 * as `application/tlsrpt+gzip`, the host name resolved by Herald's own resolver (never the OS),
 * the certificate verified for that name against `ca` (Node's roots plus tls_reporting.ca_file).
 * Any 2xx is success; another status, a TLS or connection failure, or no answer within
 * `timeoutMs` is an Error naming why (the report is tried again later). Redirects are not followed.
 */
import https from 'node:https';
import type { Resolver } from '../dns/index.js';
import { isIpAddress } from '../dns/index.js';
import { TLSRPT_MEDIA_TYPE } from './report.js';

/** The whole POST of one address (connect, TLS, request, answer). */
export const REPORT_POST_TIMEOUT_MS = 30_000;
const HTTPS_PORT = 443;
const HTTP_SUCCESS = /^2\d\d$/;

export interface PostOptions {
  resolver: Resolver;
  /** Trusted CA certificates (PEM); absent = Node's bundled roots. */
  ca?: readonly string[] | undefined;
  timeoutMs?: number;
}

/** POSTs `body` to `uri` (an https: URL), trying each address of its host until one answers. */
export async function postReport(uri: string, body: Buffer, options: PostOptions): Promise<void> {
  const url = new URL(uri);
  if (url.protocol !== 'https:') throw new Error(`${uri}: not an https: URI`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIpAddress(host) ? [host] : await options.resolver.resolveAddresses(host);
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  let lastError: Error | undefined;
  for (const address of addresses) {
    try {
      return await postTo(url, host, address, body, options);
    } catch (err) {
      lastError = err as Error;
      if (!(err as { unreachable?: boolean }).unreachable) break;
    }
  }
  throw lastError;
}

function postTo(url: URL, host: string, address: string, body: Buffer, options: PostOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? REPORT_POST_TIMEOUT_MS;
  const port = url.port ? Number(url.port) : HTTPS_PORT;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve();
    };
    const req = https.request(
      {
        host: address,
        port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        ...(isIpAddress(host) ? {} : { servername: host }),
        headers: {
          host: url.host,
          'content-type': TLSRPT_MEDIA_TYPE,
          'content-length': body.length,
        },
        agent: false,
        rejectUnauthorized: true,
        ...(options.ca ? { ca: [...options.ca] } : {}),
      },
      (res) => {
        res.resume();
        const status = String(res.statusCode ?? 0);
        if (HTTP_SUCCESS.test(status)) res.on('end', () => finish());
        else finish(new Error(`${url.href}: HTTP ${status}`));
      },
    );
    const timer = setTimeout(
      () => finish(new Error(`${url.href}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const unreachable = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'].includes(
        err.code ?? '',
      );
      finish(Object.assign(new Error(`${url.href}: ${err.message}`), { unreachable }));
    });
    req.end(body);
  });
}
