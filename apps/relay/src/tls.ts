/**
 * The submission listener's certificate: the configured cert/key files, or (smtp.tls.self_signed)
 * a self-signed one made with the openssl CLI and cached under `cacheDir` so it survives restarts.
 * Returns undefined when neither is configured (STARTTLS is then not offered).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HeraldConfig } from '@herald/delivery-core';

const SELF_SIGNED_DAYS = 825;

export function loadTls(
  config: HeraldConfig,
  cacheDir = join(tmpdir(), 'herald-tls'),
): { key: Buffer; cert: Buffer } | undefined {
  const { cert_file, key_file, self_signed } = config.smtp.tls;
  if (cert_file && key_file) return { key: readFileSync(key_file), cert: readFileSync(cert_file) };
  if (!self_signed) return undefined;
  return selfSignedCertificate(config.smtp.hostname, cacheDir);
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
