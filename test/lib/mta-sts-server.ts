/**
 * An MTA-STS policy host for e2e tests: one HTTPS server on a loopback address at a free port
 * (the relay under test sets `delivery.mta_sts.policy_port` to it; production uses 443),
 * answering `GET /.well-known/mta-sts.txt` for `mta-sts.<domain>` with
 * that domain's policy (text/plain), 404 otherwise. Point `mta-sts.<domain>` at `host` in the
 * DNS zone. Owns the server; close() ends it and its connections. Records every request.
 */
import https from 'node:https';

const POLICY_PATH = '/.well-known/mta-sts.txt';
const BIND_ATTEMPTS = 5;

export interface PolicyServer {
  host: string;
  /** The HTTPS port it listens on (give it to the relay as delivery.mta_sts.policy_port). */
  port: number;
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
    // A random 127.0.x.y: the policy host's own address in the test DNS zone.
    const host = `127.0.${100 + Math.floor(Math.random() * 150)}.${2 + Math.floor(Math.random() * 250)}`;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address();
      return {
        host,
        port: typeof address === 'object' && address ? address.port : 0,
        requests,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
