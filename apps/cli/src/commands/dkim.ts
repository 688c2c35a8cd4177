/**
 * `herald dkim keygen DOMAIN --selector S [--type rsa|ed25519] [--bits N] [--out DIR]`: makes a
 * DKIM signing key, writes it to `<DIR>/<domain>.<selector>.pem` (PKCS#8 PEM, mode 0600, never
 * over an existing file), and prints the DNS TXT record to publish (split into 255-character
 * strings) and the `dkim:` line to add to herald.yaml.
 */
import { generateKeyPair } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dkimDnsRecord, RSA_MIN_BITS, RSA_RECOMMENDED_BITS, readDkimKey } from '@herald/delivery-core/auth';
import { DKIM_SELECTOR } from '@herald/delivery-core/config';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';

const generate = promisify(generateKeyPair);

const KEY_TYPES = ['rsa', 'ed25519'] as const;
type KeyType = (typeof KEY_TYPES)[number];
/** Largest RSA key offered: verifiers commonly refuse bigger ones (RFC 8301 §3.2 asks up to 4096). */
const RSA_MAX_BITS = 4096;
const DEFAULT_OUT_DIR = 'keys';
/** A character-string in a TXT record holds at most 255 bytes (RFC 1035 §3.3.14). */
const TXT_STRING_MAX = 255;
const KEY_FILE_MODE = 0o600;
const KEY_DIR_MODE = 0o700;
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;

const help = `Usage: herald dkim keygen DOMAIN --selector S [--type rsa|ed25519] [--bits N] [--out DIR]

Make a DKIM signing key for DOMAIN, write it to DIR/DOMAIN.S.pem (mode 0600; an
existing file is never overwritten), and print the DNS TXT record to publish at
S._domainkey.DOMAIN and the dkim: entry to add to herald.yaml.

  --selector S    the selector (s=), e.g. s1 or 2025a; a new one for each rotation
  --type T        rsa (default; rsa-sha256, what every verifier knows) or ed25519
                  (ed25519-sha256, RFC 8463: sign with both during the transition)
  --bits N        RSA key size, ${RSA_MIN_BITS} to ${RSA_MAX_BITS} (default ${RSA_RECOMMENDED_BITS})
  --out DIR       folder for the key file (default ${DEFAULT_OUT_DIR}; created mode 0700)

key_file in herald.yaml is relative to the config file's folder.`;

/** The TXT record as zone-file strings of at most 255 characters each. */
export function txtStrings(record: string): string {
  const parts: string[] = [];
  for (let i = 0; i < record.length; i += TXT_STRING_MAX)
    parts.push(`"${record.slice(i, i + TXT_STRING_MAX)}"`);
  return parts.join(' ');
}

function keyType(text: string | undefined): KeyType {
  if (text === undefined) return 'rsa';
  if ((KEY_TYPES as readonly string[]).includes(text)) return text as KeyType;
  throw usageError('dkim keygen', `--type must be rsa or ed25519, got ${JSON.stringify(text)}`);
}

function rsaBits(text: string | undefined, type: KeyType): number {
  if (text === undefined) return RSA_RECOMMENDED_BITS;
  if (type !== 'rsa') throw usageError('dkim keygen', '--bits applies to RSA keys only');
  const bits = Number(text);
  if (!/^\d+$/.test(text) || bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
    throw usageError(
      'dkim keygen',
      `--bits must be from ${RSA_MIN_BITS} to ${RSA_MAX_BITS}, got ${JSON.stringify(text)}`,
    );
  return bits;
}

async function makeKey(type: KeyType, bits: number): Promise<string> {
  const encoding = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
  const pair =
    type === 'rsa'
      ? await generate('rsa', {
          modulusLength: bits,
          publicKeyEncoding: { type: 'spki', format: 'pem' },
          ...encoding,
        })
      : await generate('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, ...encoding });
  return pair.privateKey;
}

async function keygen(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'dkim keygen',
    args,
    {
      selector: { type: 'string', short: 's' },
      type: { type: 'string' },
      bits: { type: 'string' },
      out: { type: 'string' },
    },
    true,
  );
  const [rawDomain, ...extra] = positionals;
  if (!rawDomain) throw usageError('dkim keygen', 'missing DOMAIN');
  if (extra.length) throw usageError('dkim keygen', `unexpected argument "${extra[0]}"`);
  if (!DOMAIN.test(rawDomain)) throw usageError('dkim keygen', `"${rawDomain}" is not a domain name`);
  const selector = values.selector;
  if (selector === undefined) throw usageError('dkim keygen', 'missing --selector');
  if (!DKIM_SELECTOR.test(selector))
    throw usageError('dkim keygen', `"${selector}" is not a selector (letters, digits, . _ -)`);
  const type = keyType(values.type);
  const bits = rsaBits(values.bits, type);
  const domain = rawDomain.replace(/\.$/, '').toLowerCase();
  const dir = values.out ?? DEFAULT_OUT_DIR;
  const file = join(dir, `${domain}.${selector}.pem`);

  const pem = await makeKey(type, bits);
  await mkdir(dir, { recursive: true, mode: KEY_DIR_MODE });
  try {
    await writeFile(file, pem, { mode: KEY_FILE_MODE, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new CliExit(
        EXIT_FAILURE,
        'HERALD_FILE_UNWRITABLE',
        `dkim keygen: ${file} exists; not overwritten (pick a new selector)`,
      );
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_FILE_UNWRITABLE',
      `dkim keygen: cannot write ${file}: ${(err as Error).message}`,
    );
  }
  const record = dkimDnsRecord(readDkimKey(pem));
  const what = type === 'rsa' ? `RSA ${bits} bits, rsa-sha256` : 'Ed25519, ed25519-sha256';
  io.stdout.write(`Wrote ${file} (${what}, mode 0600).

Publish this DNS TXT record:
${selector}._domainkey.${domain}. IN TXT ${txtStrings(record)}

Add to herald.yaml (key_file is relative to the config file's folder):
dkim:
  - { domain: "${domain}", selector: "${selector}", key_file: "${file}" }
`);
  return EXIT_OK;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = args;
  if (action === 'keygen') return keygen(rest, io);
  throw usageError('dkim', action === undefined ? 'missing action (keygen)' : `unknown action "${action}"`);
}

export const dkimCommand: Command = {
  name: 'dkim',
  synopsis: 'keygen DOMAIN --selector S [--type rsa|ed25519] [--bits N] [--out DIR]',
  summary: 'make a DKIM key and print its DNS record',
  help,
  run,
};
