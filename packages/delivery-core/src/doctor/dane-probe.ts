/**
 * The doctor's one network step besides DNS: connect to an MX host (the delivery port, 25 unless
 * `delivery.port` says otherwise), read the greeting, EHLO, STARTTLS and note the certificate
 * chain the server presents, then QUIT — on Herald's own outbound client (smtp/ SmtpSession), so
 * every step has its deadline (at most the DANE_PROBE_* values, lower when the config's delivery
 * timeouts are) and every way the connection ends settles the probe once. Nothing is sent: no
 * MAIL. The chain is judged by checks-dane.ts with delivery's matcher (dane/ matchDane).
 * Needs injected: the port, the EHLO name, the deadlines.
 */
import { DeliveryError, type SmtpStage } from '../errors/index.js';
import { type SessionTimeouts, SmtpSession } from '../smtp/index.js';

/** Deadlines of a probe's steps at most, ms: a doctor answers within about a minute per host. */
export const DANE_PROBE_CONNECT_TIMEOUT_MS = 10_000;
export const DANE_PROBE_GREETING_TIMEOUT_MS = 30_000;
export const DANE_PROBE_COMMAND_TIMEOUT_MS = 30_000;
/**
 * A probe's whole time at most, ms: a server that answers each step just inside its deadline is
 * reported as too slow instead of holding the doctor for minutes (its socket still ends by the
 * step deadlines).
 */
export const DANE_PROBE_TOTAL_TIMEOUT_MS = 60_000;
/** MX hosts probed at most (each one address: the first A, else AAAA, record). */
export const DANE_PROBE_MAX_HOSTS = 10;

/** One MX host to probe, at one of its addresses. */
export interface DaneProbeTarget {
  host: string;
  address: string;
}

/** What a probe saw: the chain presented over STARTTLS (DER, leaf first), or why none was. */
export type DaneProbeResult = DaneProbeTarget & { port: number } & (
    | { chain: Buffer[] }
    | {
        error: string;
        /** The step that failed: `starttls` (not offered, refused, handshake) means no TLS at all. */
        stage?: SmtpStage | undefined;
      }
  );

/** Probes the targets (concurrently, at most DANE_PROBE_MAX_HOSTS); never rejects. */
export type DaneProber = (targets: readonly DaneProbeTarget[]) => Promise<DaneProbeResult[]>;

export interface DaneProbeOptions {
  /** The delivery port (delivery.port); TLSA names port 25 whatever it is. */
  port: number;
  ehloName: string;
  /** The config's delivery timeouts: each step takes the lower of these and the DANE_PROBE_* ones. */
  timeouts?: Partial<Pick<SessionTimeouts, 'connectMs' | 'greetingMs' | 'commandMs'>>;
  /** A probe's whole time at most, ms (default DANE_PROBE_TOTAL_TIMEOUT_MS; lower only in tests). */
  totalMs?: number;
}

const lower = (limit: number, given: number | undefined) =>
  given === undefined ? limit : Math.min(limit, given);

export function createDaneProber(options: DaneProbeOptions): DaneProber {
  const commandMs = lower(DANE_PROBE_COMMAND_TIMEOUT_MS, options.timeouts?.commandMs);
  const timeouts: SessionTimeouts = {
    connectMs: lower(DANE_PROBE_CONNECT_TIMEOUT_MS, options.timeouts?.connectMs),
    greetingMs: lower(DANE_PROBE_GREETING_TIMEOUT_MS, options.timeouts?.greetingMs),
    commandMs,
    dataMs: commandMs,
  };
  const probe = async (target: DaneProbeTarget): Promise<DaneProbeResult> => {
    const at = { ...target, port: options.port };
    let chain: Buffer[] | undefined;
    try {
      const session = await SmtpSession.open(
        {
          address: target.address,
          port: options.port,
          hostname: target.host,
          tls: 'require',
          tlsVerify: false,
          // Notes the chain and lets the handshake through: the doctor judges it, delivery would refuse.
          peerCheck: {
            by: 'DANE',
            key: 'doctor',
            check: (presented) => {
              chain = [...presented];
              return undefined;
            },
          },
        },
        options.ehloName,
        timeouts,
      );
      await session.close();
    } catch (err) {
      // A failure after the handshake (the EHLO over TLS) still saw the certificate.
      if (chain) return { ...at, chain };
      const stage = err instanceof DeliveryError ? err.reply.stage : undefined;
      return { ...at, error: err instanceof Error ? err.message : String(err), stage };
    }
    return chain ? { ...at, chain } : { ...at, error: 'no certificate was presented', stage: 'starttls' };
  };
  const totalMs = options.totalMs ?? DANE_PROBE_TOTAL_TIMEOUT_MS;
  const bounded = (target: DaneProbeTarget): Promise<DaneProbeResult> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<DaneProbeResult>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ...target,
            port: options.port,
            error: `the probe took longer than ${totalMs / 1000} s in all`,
          }),
        totalMs,
      );
      timer.unref();
    });
    return Promise.race([probe(target), late]).finally(() => clearTimeout(timer));
  };
  return (targets) => Promise.all(targets.slice(0, DANE_PROBE_MAX_HOSTS).map(bounded));
}
