/**
 * Throw-away TLS material for tests, made with the openssl CLI (never shipped, never on disk
 * longer than one openssl run): selfSignedCertificate(), one localhost certificate per process
 * (the default STARTTLS certificate of startSmtpSink), and createTestCa(), a certificate
 * authority that issues server certificates for given DNS names (a sink's MX name, an MTA-STS
 * policy host). Fails with a clear message when openssl is missing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const CERT_VALIDITY_DAYS = '2';
const OPENSSL_TIMEOUT_MS = 30_000;

let certificate: Promise<{ key: string; cert: string }> | null = null;

/** A self-signed localhost certificate, generated once per process with the openssl CLI. */
export function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= generateCertificate().catch((err: unknown) => {
    certificate = null;
    throw err;
  });
  return certificate;
}

function generateCertificate(): Promise<{ key: string; cert: string }> {
  return withOpenssl(async (run, dir) => {
    const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', CERT_VALIDITY_DAYS];
    args.push('-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
    await run([...args, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    return {
      key: await readFile(join(dir, 'key.pem'), 'utf8'),
      cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
    };
  });
}

/** A throw-away certificate authority: its certificate, and server certificates it issues. */
export interface TestCa {
  /** The CA certificate (PEM): what a client must trust. */
  cert: string;
  /** A key and certificate for these DNS names (the first is also the CN), signed by the CA. */
  issue(names: string[]): Promise<{ key: string; cert: string }>;
}

/** A new CA (P-256 keys, valid 2 days), made with the openssl CLI; its key stays in memory. */
export async function createTestCa(name = 'Herald Test CA'): Promise<TestCa> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = await withOpenssl(async (run, dir) => {
    const args = ['req', '-x509', ...ec, '-days', CERT_VALIDITY_DAYS, '-subj', `/CN=${name}`];
    args.push('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    await run([...args, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem')]);
    return {
      key: await readFile(join(dir, 'ca.key'), 'utf8'),
      cert: await readFile(join(dir, 'ca.pem'), 'utf8'),
    };
  });
  const issue = (names: string[]) =>
    withOpenssl(async (run, dir) => {
      const file = (f: string) => join(dir, f);
      await writeFile(file('ca.key'), ca.key);
      await writeFile(file('ca.pem'), ca.cert);
      const san = names.map((n) => `DNS:${n}`).join(',');
      await writeFile(file('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
      await run([
        'req',
        ...ec,
        '-subj',
        `/CN=${names[0]}`,
        '-keyout',
        file('key.pem'),
        '-out',
        file('req.csr'),
      ]);
      const sign = ['x509', '-req', '-in', file('req.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key')];
      sign.push('-CAcreateserial', '-days', CERT_VALIDITY_DAYS, '-extfile', file('ext.cnf'));
      await run([...sign, '-out', file('cert.pem')]);
      return { key: await readFile(file('key.pem'), 'utf8'), cert: await readFile(file('cert.pem'), 'utf8') };
    });
  return { cert: ca.cert, issue };
}

/** Runs `work` with an openssl runner and a temporary folder that is removed afterwards. */
async function withOpenssl<T>(
  work: (run: (args: string[]) => Promise<void>, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-sink-tls-'));
  const run = async (args: string[]) => {
    await promisify(execFile)('openssl', args, { timeout: OPENSSL_TIMEOUT_MS });
  };
  try {
    return await work(run, dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('TLS sinks need openssl: `apt-get install -y openssl`');
    throw new Error(`openssl could not create a certificate: ${e.stderr ?? e.message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
