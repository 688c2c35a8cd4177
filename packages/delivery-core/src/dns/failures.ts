/**
 * The delivery errors the DNS module raises, in one place so texts and codes stay consistent.
 *
 * Guarantees: every error has stage 'dns' and fault 'dns'; transient ones are 451 4.4.3
 * (RFC 3463 "directory server failure"), permanent ones carry the code the RFC asks for.
 */
import { PermanentError, TransientError } from '../errors/index.js';

export function dnsTransient(text: string, cause?: unknown): TransientError {
  return new TransientError({ code: 451, enhanced: '4.4.3', text, stage: 'dns' }, 'dns', { cause });
}

/** RFC 7505 §4.2: a null MX means the domain accepts no mail. */
export function nullMx(domain: string): PermanentError {
  return new PermanentError(
    { code: 556, enhanced: '5.1.10', text: `${domain} does not accept mail (null MX)`, stage: 'dns' },
    'dns',
  );
}

export function domainMissing(domain: string, why = 'does not exist'): PermanentError {
  return new PermanentError(
    { code: 550, enhanced: '5.1.2', text: `domain ${domain} ${why}`, stage: 'dns' },
    'dns',
  );
}

export function noMxAddress(domain: string): PermanentError {
  return new PermanentError(
    { code: 550, enhanced: '5.4.4', text: `no MX host of ${domain} has an address`, stage: 'dns' },
    'dns',
  );
}
