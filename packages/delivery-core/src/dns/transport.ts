/**
 * One DNS exchange on the wire: a query to one nameserver over UDP, retried over TCP when the
 * UDP answer is truncated (TC=1).
 *
 * Owns: sockets, ids, framing and per-attempt timeouts. Guarantees: a fresh socket (so a fresh
 * source port) and a random 16-bit id per exchange; a UDP datagram is accepted only from the
 * server queried, as a response whose id and question match ours (anything else is ignored, as
 * RFC 5452 asks); TCP uses the two-byte length prefix of RFC 1035 §4.2.2; every socket and timer
 * is released when the exchange settles or `signal` aborts. Failures are DnsAttemptError.
 * Needs: the server, the timeout and an optional AbortSignal from the caller.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { DecodedPacket, Packet } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { formatServer } from './servers.js';
import type { NameServer, RecordType } from './types.js';

/** A decoded response; dns-packet adds the rcode name, which its types omit. */
export type DnsResponse = DecodedPacket & { rcode?: string };

export type AttemptFailure = 'timeout' | 'network' | 'malformed' | 'rcode' | 'aborted';

/** One failed attempt; the resolver decides whether to retry. */
export class DnsAttemptError extends Error {
  readonly reason: AttemptFailure;
  constructor(reason: AttemptFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.name = 'DnsAttemptError';
  }
}

const ID_SPACE = 0x10000;
/** EDNS0 payload size advertised over UDP (the DNS Flag Day 2020 recommendation). */
export const EDNS_UDP_PAYLOAD_BYTES = 1232;
const TCP_LENGTH_PREFIX_BYTES = 2;

export interface ExchangeRequest {
  server: NameServer;
  name: string;
  type: RecordType;
  timeoutMs: number;
  signal?: AbortSignal;
}

function buildQuery(id: number, name: string, type: RecordType): Packet {
  return {
    type: 'query',
    id,
    // AD in a query asks a validating resolver to say whether it validated (RFC 6840 §5.7).
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
    questions: [{ name, type, class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: EDNS_UDP_PAYLOAD_BYTES,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  };
}

/** True when `packet` is the response to our query `id` for (name, type). */
function matches(packet: DnsResponse, id: number, name: string, type: RecordType): boolean {
  const question = packet.questions?.[0];
  return (
    packet.type === 'response' &&
    packet.id === id &&
    question !== undefined &&
    question.type === type &&
    question.name.toLowerCase().replace(/\.$/, '') === name
  );
}

/**
 * Runs `body` with a settle-once promise, a timeout and abort handling; `cleanup` always runs.
 */
function guarded<T>(
  req: ExchangeRequest,
  transport: string,
  body: (resolve: (value: T) => void, reject: (err: Error) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let cleanup: () => void = () => {};
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      cleanup();
      fn();
    };
    const onAbort = (): void =>
      finish(() => reject(new DnsAttemptError('aborted', 'DNS query aborted: the resolver was closed')));
    const where = `${req.name} ${req.type} via ${formatServer(req.server)}/${transport}`;
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new DnsAttemptError('timeout', `DNS query ${where} timed out after ${req.timeoutMs} ms`)),
        ),
      req.timeoutMs,
    );
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    cleanup = body(
      (value) => finish(() => resolve(value)),
      (err) => finish(() => reject(err)),
    );
    if (settled) cleanup();
  });
}

function exchangeUdp(req: ExchangeRequest, id: number): Promise<DnsResponse> {
  return guarded<DnsResponse>(req, 'udp', (resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(req.server.host) ? 'udp6' : 'udp4');
    socket.on('error', (err) =>
      reject(new DnsAttemptError('network', `DNS UDP error: ${err.message}`, { cause: err })),
    );
    socket.on('message', (message, remote) => {
      if (remote.port !== req.server.port) return;
      let packet: DnsResponse;
      try {
        packet = dnsPacket.decode(message);
      } catch {
        return; // garbage: keep waiting for the real answer
      }
      if (matches(packet, id, req.name, req.type)) resolve(packet);
    });
    socket.send(dnsPacket.encode(buildQuery(id, req.name, req.type)), req.server.port, req.server.host);
    return () => socket.close();
  });
}

function exchangeTcp(req: ExchangeRequest, id: number): Promise<DnsResponse> {
  return guarded<DnsResponse>(req, 'tcp', (resolve, reject) => {
    const socket = net.connect({ host: req.server.host, port: req.server.port });
    let buffer = Buffer.alloc(0);
    socket.on('error', (err) =>
      reject(new DnsAttemptError('network', `DNS TCP error: ${err.message}`, { cause: err })),
    );
    socket.on('connect', () => socket.write(dnsPacket.streamEncode(buildQuery(id, req.name, req.type))));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < TCP_LENGTH_PREFIX_BYTES) return;
      const length = buffer.readUInt16BE(0);
      if (buffer.length < TCP_LENGTH_PREFIX_BYTES + length) return;
      try {
        const packet: DnsResponse = dnsPacket.decode(
          buffer.subarray(TCP_LENGTH_PREFIX_BYTES, TCP_LENGTH_PREFIX_BYTES + length),
        );
        if (matches(packet, id, req.name, req.type)) resolve(packet);
        else reject(new DnsAttemptError('malformed', 'DNS TCP answer does not match the query'));
      } catch (err) {
        reject(new DnsAttemptError('malformed', 'DNS TCP answer could not be decoded', { cause: err }));
      }
    });
    socket.on('end', () =>
      reject(new DnsAttemptError('network', 'DNS TCP connection closed before an answer')),
    );
    return () => socket.destroy();
  });
}

/**
 * Sends (name, type) to one server: UDP first, then TCP with a new id if the answer is truncated.
 * `name` must already be normalised (lower case, no trailing dot).
 */
export async function exchange(req: ExchangeRequest): Promise<DnsResponse> {
  const udp = await exchangeUdp(req, randomInt(ID_SPACE));
  if (!udp.flag_tc) return udp;
  return exchangeTcp(req, randomInt(ID_SPACE));
}
