/**
 * The submission listener's certificate: the configured cert/key files, or (smtp.tls.self_signed)
 * a self-signed one made with the openssl CLI and cached under `cacheDir` so it survives restarts.
 * Returns undefined when neither is configured (STARTTLS is then not offered). Configured files
 * that cannot be read or do not form a certificate and key are a ConfigError with the key path.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ConfigError, type HeraldConfig } from '@herald/delivery-core';

const SELF_SIGNED_DAYS = 825;

export function loadTls(
  config: HeraldConfig,
  cacheDir = join(tmpdir(), 'herald-tls'),
): { key: Buffer; cert: Buffer } | undefined {
  const { cert_file, key_file, self_signed } = config.smtp.tls;
  if (cert_file && key_file) return readTlsFiles(cert_file, key_file);
  if (!self_signed) return undefined;
  return selfSignedCertificate(config.smtp.hostname, cacheDir);
}

/**
 * The configured certificate and key, read and checked (PEM, and a key that belongs to the
 * certificate); a ConfigError naming smtp.tls.cert_file / key_file otherwise. Never shows key bytes.
 */
export function readTlsFiles(certFile: string, keyFile: string): { key: Buffer; cert: Buffer } {
  const read = (path: string, key: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConfigError('HERALD_CONFIG_INVALID', [
        { path: key, message: `cannot read ${path}: ${reason}` },
      ]);
    }
  };
  const cert = read(certFile, 'smtp.tls.cert_file');
  const key = read(keyFile, 'smtp.tls.key_file');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const message = `${certFile} and ${keyFile} are not a PEM certificate and its private key (${(err as Error).message})`;
    throw new ConfigError('HERALD_CONFIG_INVALID', [{ path: 'smtp.tls.cert_file', message }]);
  }
  return { key, cert };
}

export function selfSignedCertificate(hostname: string, dir: string): { key: Buffer; cert: Buffer } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-sha256',
          '-days',
          String(SELF_SIGNED_DAYS),
          '-subj',
          `/CN=${hostname}`,
          '-addext',
          `subjectAltName=DNS:${hostname},DNS:localhost,IP:127.0.0.1`,
          '-keyout',
          keyFile,
          '-out',
          certFile,
        ],
        { stdio: 'pipe' },
      );
    } catch (err) {
      throw new Error(
        `cannot generate a self-signed certificate (is openssl installed? apt-get install -y openssl): ${(err as Error).message}`,
      );
    }
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
}
