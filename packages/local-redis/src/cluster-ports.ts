/**
 * Ports and binaries a cluster node needs: a node listens on its port and on port + 10000 (the
 * cluster bus), so both must be free; redis-cli (which joins the nodes) sits beside redis-server
 * or on PATH. Guarantees: the pair was free a moment ago; callers retry on a bind failure.
 */
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { freePort, LOOPBACK_HOST } from './ports.js';

/** The cluster bus listens on the node's port plus this. */
export const CLUSTER_BUS_PORT_OFFSET = 10_000;
const MAX_PORT = 65_535;
const PAIR_ATTEMPTS = 20;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: LOOPBACK_HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port that was free, with its bus port (port + 10000) free too. */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < PAIR_ATTEMPTS; attempt++) {
    const port = await freePort(LOOPBACK_HOST);
    const bus = port + CLUSTER_BUS_PORT_OFFSET;
    if (bus <= MAX_PORT && (await canListen(bus))) return port;
  }
  throw new Error(`no free port pair (port, port + ${CLUSTER_BUS_PORT_OFFSET}) in ${PAIR_ATTEMPTS} tries`);
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** redis-cli beside `redisServer`, else on PATH, else null. */
export function redisCliPath(redisServer: string | null): string | null {
  const dirs = [
    ...(redisServer ? [dirname(redisServer)] : []),
    ...(process.env['PATH'] ?? '').split(delimiter),
  ];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, 'redis-cli');
    if (executable(candidate)) return candidate;
  }
  return null;
}
