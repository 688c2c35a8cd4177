/**
 * A real DNS server on loopback for tests, built on `dns-packet`.
 *
 * Owns: one UDP socket and one TCP listener on the same port, answering from a live-replaceable
 * `Zone` (see dns-zone.ts for the answering rules: NXDOMAIN for absent names, NODATA, AA,
 * CNAME expansion, per-name rcode / truncate / delay / drop). Guarantees: every query seen is
 * appended to `queries` in arrival order (name lower-cased, no trailing dot); TCP speaks the
 * RFC 1035 §4.2.2 two-byte length framing and accepts several queries per connection; `close()`
 * releases both sockets, open TCP connections and pending delayed answers.
 * Needs: nothing but loopback. Binds 127.0.0.1 on an ephemeral port unless told otherwise.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Packet } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { buildResponse, entryFor, normaliseName, type Transport, type Zone } from './dns-zone.js';

export { DEFAULT_ZONE_TTL_S, type Zone, type ZoneEntry } from './dns-zone.js';

export interface DnsQueryRecord {
  name: string;
  type: string;
  transport: Transport;
}

export interface DnsServerHandle {
  host: string;
  port: number;
  /** "127.0.0.1:PORT" (IPv6 hosts are bracketed: "[::1]:PORT"). */
  address: string;
  /** Every query seen, in order. */
  queries: DnsQueryRecord[];
  /** Replace the zone live. */
  setZone(zone: Zone): void;
  close(): Promise<void>;
}

export interface StartDnsServerOptions {
  zone: Zone;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 = ephemeral. */
  port?: number;
}

/** How many times to pick a fresh ephemeral UDP port when TCP cannot bind the same one. */
const BIND_ATTEMPTS = 5;
const TCP_LENGTH_PREFIX_BYTES = 2;
const DEFAULT_HOST = '127.0.0.1';

function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

export async function startDnsServer(opts: StartDnsServerOptions): Promise<DnsServerHandle> {
  const host = opts.host ?? DEFAULT_HOST;
  let zone = opts.zone;
  const queries: DnsQueryRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const connections = new Set<net.Socket>();
  let closed = false;

  /** Decodes, records and answers one query; `send` is skipped for dropped queries. */
  function handle(message: Buffer, transport: Transport, send: (response: Buffer) => void): void {
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return; // not DNS: ignore, as a real server would
    }
    const question = query.questions?.[0];
    if (question) queries.push({ name: normaliseName(question.name), type: question.type, transport });
    const entry = entryFor(zone, question);
    if (entry?.drop) return;
    const reply = (): void => {
      if (closed) return;
      send(dnsPacket.encode(buildResponse(zone, query, transport)));
    };
    if (entry?.delayMs && entry.delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply();
      }, entry.delayMs);
      timers.add(timer);
    } else {
      reply();
    }
  }

  function onTcpConnection(socket: net.Socket): void {
    connections.add(socket);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= TCP_LENGTH_PREFIX_BYTES) {
        const length = pending.readUInt16BE(0);
        if (pending.length < TCP_LENGTH_PREFIX_BYTES + length) break;
        const message = pending.subarray(TCP_LENGTH_PREFIX_BYTES, TCP_LENGTH_PREFIX_BYTES + length);
        pending = pending.subarray(TCP_LENGTH_PREFIX_BYTES + length);
        handle(message, 'tcp', (response) => {
          if (socket.destroyed) return;
          const prefix = Buffer.alloc(TCP_LENGTH_PREFIX_BYTES);
          prefix.writeUInt16BE(response.length);
          socket.write(Buffer.concat([prefix, response]));
        });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => connections.delete(socket));
  }

  let udp: dgram.Socket | undefined;
  let tcp: net.Server | undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < BIND_ATTEMPTS && !tcp; attempt++) {
    const candidate = await bindUdp(host, opts.port ?? 0);
    const server = net.createServer(onTcpConnection);
    try {
      await listenTcp(server, host, candidate.address().port);
      udp = candidate;
      tcp = server;
    } catch (err) {
      lastError = err;
      await closeUdp(candidate);
      if (opts.port) break; // a fixed port will not become free by retrying
    }
  }
  if (!udp || !tcp) throw new Error(`DNS server could not bind UDP+TCP on ${host}`, { cause: lastError });

  const udpSocket = udp;
  const tcpServer = tcp;
  udpSocket.on('message', (message, remote) => {
    handle(message, 'udp', (response) => {
      if (!closed) udpSocket.send(response, remote.port, remote.address);
    });
  });
  udpSocket.on('error', () => {
    // A test DNS server must not crash the test process; errors surface as client timeouts.
  });

  const port = udpSocket.address().port;
  return {
    host,
    port,
    address: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    queries,
    setZone(next: Zone): void {
      zone = next;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of connections) socket.destroy();
      await Promise.all([
        closeUdp(udpSocket),
        new Promise<void>((resolve) => tcpServer.close(() => resolve())),
      ]);
    },
  };
}
