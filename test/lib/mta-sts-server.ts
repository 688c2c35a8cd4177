/**
 * An MTA-STS policy host for e2e tests: one HTTPS server on a loopback address at port 443 (the
 * relay fetches policies from the production port, so the test needs root or
 * CAP_NET_BIND_SERVICE), answering `GET /.well-known/mta-sts.txt` for `mta-sts.<domain>` with
 * that domain's policy (text/plain), 404 otherwise. Point `mta-sts.<domain>` at `host` in the
 * DNS zone. Owns the server; close() ends it and its connections. Records every request.
 */
import https from 'node:https';

export const POLICY_PORT = 443;
const POLICY_PATH = '/.well-known/mta-sts.txt';
const BIND_ATTEMPTS = 5;

export interface PolicyServer {
  host: string;
  /** "mta-sts.<domain>/.well-known/mta-sts.txt" per request, in order. */
  requests: string[];
  close(): Promise<void>;
}

export interface PolicyServerOptions {
  /** Certificate for every mta-sts.<domain> name served. */
  tls: { key: string; cert: string };
  /** Policy text per domain. */
  policies: Record<string, string>;
}

/** A policy text in the RFC 8461 format. */
export function policyText(mode: 'enforce' | 'testing' | 'none', mx: string[], maxAgeS = 86_400): string {
  return ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAgeS}`, ''].join(
    '\r\n',
  );
}

export async function startPolicyServer(options: PolicyServerOptions): Promise<PolicyServer> {
  const requests: string[] = [];
  const server = https.createServer(options.tls, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    requests.push(`${host}${req.url}`);
    const policy = host.startsWith('mta-sts.') ? options.policies[host.slice('mta-sts.'.length)] : undefined;
    if (req.url !== POLICY_PATH || policy === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(policy);
  });
  let lastError: unknown;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    // A random 127.0.x.y so that parallel runs do not meet on port 443.
    const host = `127.0.${100 + Math.floor(Math.random() * 150)}.${2 + Math.floor(Math.random() * 250)}`;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(POLICY_PORT, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return {
        host,
        requests,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code === 'EACCES')
        throw new Error(`binding port ${POLICY_PORT} on ${host} needs root or CAP_NET_BIND_SERVICE`);
    }
  }
  throw lastError;
}
